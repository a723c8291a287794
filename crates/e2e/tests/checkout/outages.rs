//! A collector that is down, failing or hung never hurts a checkout, and
//! says so in a few lines rather than one per batch.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use e2e::{BrokenCollector, Failure, Service, Suite, SuiteOptions};

use crate::{
    storefront,
    support::{APPROVED_CARD, checkout, post_checkout},
};

/// Enough checkouts for the small queue of the hung test to overflow.
const CHECKOUTS: usize = 20;

/// Long enough for many failed export cycles (the batch interval is 100 ms
/// here, and the exporter retries with backoff): a service that logged
/// every failure would log a dozen lines or more.
const OUTAGE: Duration = Duration::from_secs(5);

async fn checkouts_succeed_with_a_broken_collector(failure: Failure) -> anyhow::Result<Suite> {
    let collector = BrokenCollector::start(failure)?;
    let suite = Suite::start(
        SuiteOptions::default().env("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint()),
    )
    .await?;

    let mut slowest = Duration::ZERO;
    let outage = Instant::now();
    while outage.elapsed() < OUTAGE {
        let started = Instant::now();
        let reply =
            post_checkout(&suite, &checkout("cus_1001", "sku_mouse", 1, APPROVED_CARD)).await?;
        slowest = slowest.max(started.elapsed());
        assert_eq!(reply.status, 201, "{failure:?}: {:#}", reply.body);
        assert!(
            !reply.trace_id.is_empty(),
            "trace ids are made without a collector"
        );
    }
    // Exports run on their own thread: a hung collector holds that thread,
    // never a request. The bound is far below the exporter's timeouts.
    assert!(
        slowest < Duration::from_secs(2),
        "{failure:?}: a checkout took {slowest:?}"
    );
    browser_spans_get_503_and_checkouts_go_on(&suite, failure).await?;
    drop(collector);
    Ok(suite)
}

/// The storefront's spans cannot be forwarded: the browser is told 503 and
/// to come back later, in at most the forward's 2 s, while a checkout sent
/// at the same time is as quick as ever.
async fn browser_spans_get_503_and_checkouts_go_on(
    suite: &Suite,
    failure: Failure,
) -> anyhow::Result<()> {
    let url = format!("{}/otlp/v1/traces", suite.url(Service::Gateway));
    let started = Instant::now();
    let mut posts = tokio::task::JoinSet::new();
    for _ in 0..12 {
        let request = e2e::http_client()
            .post(&url)
            .header("content-type", "application/json")
            .body(storefront::export("storefront", "e2e during an outage").to_string());
        posts.spawn(request.send());
    }
    let alongside = Instant::now();
    let reply = post_checkout(suite, &checkout("cus_1001", "sku_mouse", 1, APPROVED_CARD)).await?;
    let took = alongside.elapsed();
    assert_eq!(reply.status, 201, "{failure:?}: {:#}", reply.body);
    assert!(
        took < Duration::from_secs(2),
        "{failure:?}: a checkout took {took:?}"
    );
    while let Some(answer) = posts.join_next().await {
        let answer = answer??;
        assert_eq!(answer.status(), 503, "{failure:?}");
        assert!(answer.headers().contains_key("retry-after"), "{failure:?}");
    }
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(3), "{failure:?}: {elapsed:?}");
    Ok(())
}

/// What a service wrote on stdout about exporting: the SDK's own warnings
/// and the telemetry crate's line per endpoint that stopped answering.
fn export_warnings(suite: &Suite, service: Service) -> Vec<String> {
    suite
        .stdout(service)
        .into_iter()
        .filter(|line| {
            line.contains("\"target\":\"opentelemetry")
                || line.contains("\"target\":\"service_telemetry::export\"")
        })
        .collect()
}

/// Each service says once that it cannot export, naming the collector,
/// and adds little else.
fn assert_few_warnings(suite: &Suite, failure: Failure) {
    for service in [Service::Gateway, Service::Orders, Service::Payments] {
        let warnings = export_warnings(suite, service);
        let said = warnings
            .iter()
            .filter(|line| line.contains("cannot export to http://127.0.0.1:"))
            .count();
        assert_eq!(
            said,
            1,
            "{failure:?}: {service} says {said} times that it cannot export:\n{}",
            warnings.join("\n")
        );
        assert!(
            warnings.len() <= 4,
            "{failure:?}: {service} repeats itself {} times:\n{}",
            warnings.len(),
            warnings.join("\n")
        );
    }
}

pub async fn refused_collector_costs_checkouts_nothing(_shared: Arc<Suite>) -> anyhow::Result<()> {
    let suite = checkouts_succeed_with_a_broken_collector(Failure::Refusing).await?;
    assert_few_warnings(&suite, Failure::Refusing);
    Ok(())
}

pub async fn failing_collector_costs_checkouts_nothing(_shared: Arc<Suite>) -> anyhow::Result<()> {
    let suite = checkouts_succeed_with_a_broken_collector(Failure::Unavailable).await?;
    assert_few_warnings(&suite, Failure::Unavailable);
    Ok(())
}

pub async fn hung_collector_costs_checkouts_nothing_and_its_queue_is_bounded(
    _shared: Arc<Suite>,
) -> anyhow::Result<()> {
    let collector = BrokenCollector::start(Failure::Hanging)?;
    // A small queue in orders, so that 20 checkouts (8 spans each) fill it
    // while the first export hangs.
    let options = SuiteOptions::default()
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint())
        .service_env(Service::Orders, "OTEL_BSP_MAX_QUEUE_SIZE", "32")
        .service_env(Service::Orders, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "16");
    let suite = Suite::start(options).await?;

    let started = Instant::now();
    for _ in 0..CHECKOUTS {
        let reply =
            post_checkout(&suite, &checkout("cus_1001", "sku_mouse", 1, APPROVED_CARD)).await?;
        assert_eq!(reply.status, 201, "{:#}", reply.body);
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(10),
        "{CHECKOUTS} checkouts took {elapsed:?}"
    );

    browser_spans_get_503_and_checkouts_go_on(&suite, Failure::Hanging).await?;

    // The queue is full: spans are dropped, not buffered without end, and
    // the SDK says so once.
    let dropping = export_warnings(&suite, Service::Orders);
    assert!(
        dropping
            .iter()
            .any(|line| line.contains("SpanDroppingStarted")),
        "orders does not say it drops spans:\n{}",
        dropping.join("\n")
    );
    // Stopping still works with an export hanging: the guard's shutdown
    // has a deadline, and the total dropped is reported.
    let status = suite.stop(Service::Orders).await?;
    assert!(status.success(), "orders exited with {status}");
    let stopped = export_warnings(&suite, Service::Orders);
    assert!(
        stopped.iter().any(|line| line.contains("SpansDropped")),
        "no count of dropped spans at shutdown:\n{}",
        stopped.join("\n")
    );
    drop(collector);
    Ok(())
}
