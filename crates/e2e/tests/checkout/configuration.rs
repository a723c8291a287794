//! The standard `OTEL_*` environment, honoured: samplers, exporters, the
//! resource, the kill switch, and bad values refused at start-up.

use std::{sync::Arc, time::Duration};

use tokio::process::Command;

use e2e::{Service, Suite, SuiteOptions, TraceTree};

use crate::support::{
    APPROVED_CARD, CONFIRMED_CHECKOUT_SPANS, checkout, post_checkout, post_checkout_with,
    trace_with,
};

/// Long enough for every service's exporter to have sent what it had.
const QUIET: Duration = Duration::from_secs(2);

async fn suite_with(pairs: &[(&str, &str)]) -> anyhow::Result<Suite> {
    let options = pairs
        .iter()
        .fold(SuiteOptions::default(), |options, (key, value)| {
            options.env(*key, *value)
        });
    Suite::start(options).await
}

async fn one_checkout(suite: &Suite) -> anyhow::Result<crate::support::Reply> {
    let reply = post_checkout(suite, &checkout("cus_1001", "sku_mouse", 1, APPROVED_CARD)).await?;
    assert_eq!(reply.status, 201, "{:#}", reply.body);
    Ok(reply)
}

pub async fn sdk_disabled_exports_nothing_and_logs_keep_their_trace_ids(
    _shared: Arc<Suite>,
) -> anyhow::Result<()> {
    let suite = suite_with(&[("OTEL_SDK_DISABLED", "true")]).await?;
    let reply = one_checkout(&suite).await?;
    tokio::time::sleep(QUIET).await;

    assert!(suite.receiver().spans().is_empty(), "no span is exported");
    assert!(
        suite.receiver().logs().is_empty(),
        "no log record is exported"
    );
    let completed = suite
        .stdout(Service::Gateway)
        .into_iter()
        .find(|line| line.contains("checkout.completed"))
        .unwrap_or_default();
    assert!(
        completed.contains(&reply.trace_id),
        "stdout keeps the trace id: {completed}"
    );
    Ok(())
}

pub async fn always_off_samples_nothing_and_every_request_succeeds(
    _shared: Arc<Suite>,
) -> anyhow::Result<()> {
    let suite = suite_with(&[("OTEL_TRACES_SAMPLER", "always_off")]).await?;
    one_checkout(&suite).await?;
    tokio::time::sleep(QUIET).await;
    assert!(suite.receiver().spans().is_empty());
    Ok(())
}

pub async fn parent_based_ratio_follows_the_callers_decision(
    _shared: Arc<Suite>,
) -> anyhow::Result<()> {
    let suite = suite_with(&[
        ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "1.0"),
    ])
    .await?;
    let body = checkout("cus_1001", "sku_mouse", 1, APPROVED_CARD);

    let unsampled = "00-5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a-00f067aa0ba902b7-00";
    let reply = post_checkout_with(&suite, &body, &[("traceparent", unsampled)]).await?;
    assert_eq!(reply.status, 201);
    let sampled = "00-6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b-00f067aa0ba902b7-01";
    let reply = post_checkout_with(&suite, &body, &[("traceparent", sampled)]).await?;
    assert_eq!(reply.status, 201);

    let kept = trace_with(
        &suite,
        "6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b",
        CONFIRMED_CHECKOUT_SPANS,
    )
    .await;
    assert_eq!(
        kept.len(),
        CONFIRMED_CHECKOUT_SPANS,
        "a sampled caller's trace is kept whole"
    );
    assert!(
        suite
            .receiver()
            .trace("5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a")
            .is_empty(),
        "an unsampled caller's trace is exported by no service"
    );
    Ok(())
}

pub async fn ratio_half_keeps_about_half_the_traces_each_complete(
    _shared: Arc<Suite>,
) -> anyhow::Result<()> {
    const CHECKOUTS: usize = 60;
    let suite = suite_with(&[
        ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "0.5"),
    ])
    .await?;
    let mut trace_ids = Vec::new();
    for _ in 0..CHECKOUTS {
        trace_ids.push(one_checkout(&suite).await?.trace_id);
    }
    tokio::time::sleep(QUIET).await;

    let mut kept = 0;
    for trace_id in &trace_ids {
        let spans = suite.receiver().trace(trace_id);
        if spans.is_empty() {
            continue;
        }
        kept += 1;
        // The gateway decided; every service downstream followed it.
        let spans = trace_with(&suite, trace_id, CONFIRMED_CHECKOUT_SPANS).await;
        assert_eq!(
            spans.len(),
            CONFIRMED_CHECKOUT_SPANS,
            "never half a trace:\n{}",
            TraceTree::new(&spans).render()
        );
    }
    // Binomial(60, 0.5): 15..=45 is four standard deviations either side.
    assert!(
        (15..=45).contains(&kept),
        "kept {kept} of {CHECKOUTS} traces"
    );
    Ok(())
}

pub async fn traces_exporter_none_still_exports_logs(_shared: Arc<Suite>) -> anyhow::Result<()> {
    let suite = suite_with(&[("OTEL_TRACES_EXPORTER", "none")]).await?;
    let reply = one_checkout(&suite).await?;
    let logs = suite
        .receiver()
        .wait_for_logs(
            |logs| {
                logs.iter()
                    .any(|log| log.trace_id.as_deref() == Some(reply.trace_id.as_str()))
            },
            crate::support::EXPORT_TIMEOUT,
        )
        .await;
    assert!(
        !logs.is_empty(),
        "log records still go out, with their trace id"
    );
    assert!(suite.receiver().spans().is_empty(), "no span does");
    Ok(())
}

pub async fn console_exporter_prints_spans_on_stdout(_shared: Arc<Suite>) -> anyhow::Result<()> {
    let options =
        SuiteOptions::default().service_env(Service::Users, "OTEL_TRACES_EXPORTER", "console");
    let suite = Suite::start(options).await?;
    one_checkout(&suite).await?;
    tokio::time::sleep(QUIET).await;
    let printed = suite
        .stdout(Service::Users)
        .into_iter()
        .filter(|line| !line.starts_with('{'))
        .any(|line| line.contains("GET /users/{customer_id}"));
    assert!(printed, "users prints its spans");
    assert!(
        suite
            .receiver()
            .spans()
            .iter()
            .all(|span| span.service != "users"),
        "and exports none of them"
    );
    Ok(())
}

pub async fn resource_attributes_and_service_name_reach_every_span(
    _shared: Arc<Suite>,
) -> anyhow::Result<()> {
    let options = SuiteOptions::default()
        .env(
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment.name=e2e,service.namespace=shop%20floor",
        )
        .service_env(Service::Notifications, "OTEL_SERVICE_NAME", "mailer");
    let suite = Suite::start(options).await?;
    let reply = one_checkout(&suite).await?;
    let spans = trace_with(&suite, &reply.trace_id, CONFIRMED_CHECKOUT_SPANS).await;

    assert!(
        spans.iter().any(|span| span.service == "mailer"),
        "OTEL_SERVICE_NAME wins"
    );
    for span in &spans {
        let attribute = |key: &str| {
            span.resource
                .get(key)
                .and_then(|value| value.as_str())
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(attribute("deployment.environment.name"), "e2e", "{span}");
        assert_eq!(
            attribute("service.namespace"),
            "shop floor",
            "{span}: percent-decoded"
        );
    }
    Ok(())
}

pub async fn bad_values_stop_a_service_with_one_line_naming_the_variable(
    _shared: Arc<Suite>,
) -> anyhow::Result<()> {
    let binary = e2e::binary(Service::Gateway)?;
    for (variable, value) in [
        ("OTEL_TRACES_SAMPLER", "sometimes"),
        ("OTEL_TRACES_SAMPLER_ARG", "2"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "not a url"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ("OTEL_TRACES_EXPORTER", "zipkin"),
        ("OTEL_SDK_DISABLED", "maybe"),
        ("LISTEN_ADDR", "everywhere"),
        ("USERS_URL", "::not-a-url::"),
    ] {
        let run = Command::new(&binary)
            .env_clear()
            .env("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
            .env(variable, value)
            .kill_on_drop(true)
            .output();
        // A value wrongly accepted would start a server that never exits.
        let output = tokio::time::timeout(Duration::from_secs(10), run)
            .await
            .map_err(|_| {
                anyhow::anyhow!("{variable}={value} was accepted: the service started")
            })??;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{variable}={value} was accepted");
        assert_eq!(
            stderr.lines().count(),
            1,
            "{variable}: one line, got {stderr:?}"
        );
        assert!(stderr.contains(variable), "{variable}: {stderr:?}");
    }
    Ok(())
}

pub async fn grpc_protocol_exports_the_whole_trace(_shared: Arc<Suite>) -> anyhow::Result<()> {
    let receiver = e2e::OtlpReceiver::start()?;
    let suite = suite_with(&[
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.grpc_endpoint()),
    ])
    .await?;
    let reply = one_checkout(&suite).await?;
    let spans = receiver
        .wait_for_trace(
            &reply.trace_id,
            |spans| spans.len() >= CONFIRMED_CHECKOUT_SPANS,
            crate::support::EXPORT_TIMEOUT,
        )
        .await;
    assert_eq!(
        spans.len(),
        CONFIRMED_CHECKOUT_SPANS,
        "{}",
        TraceTree::new(&spans).render()
    );
    let logs = receiver
        .wait_for_logs(
            |logs| {
                logs.iter()
                    .any(|log| log.trace_id.as_deref() == Some(reply.trace_id.as_str()))
            },
            crate::support::EXPORT_TIMEOUT,
        )
        .await;
    assert!(!logs.is_empty(), "log records go over gRPC too");
    assert!(
        suite.receiver().spans().is_empty(),
        "nothing went to the HTTP endpoint"
    );
    Ok(())
}
