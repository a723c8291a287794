//! The telemetry crate's examples keep their promises: run as a user runs
//! them, against a real OTLP receiver, the spans they promise arrive.

use std::{process::Stdio, time::Duration};

use e2e::{OtlpReceiver, SpanKind, TraceTree};
use tokio::io::{AsyncBufReadExt, BufReader};

/// `axum_service`: a SERVER span per request, with CLIENT spans for its
/// statement and its outgoing call, and everything flushed at Ctrl-C.
#[tokio::test(flavor = "multi_thread")]
async fn the_axum_example_traces_a_request_and_flushes_at_ctrl_c() -> anyhow::Result<()> {
    let receiver = OtlpReceiver::start()?;
    // What the example calls: anything that answers.
    let upstream = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let upstream_url = format!("http://{}/ping", upstream.local_addr()?);
    tokio::spawn(async move {
        let router = axum::Router::new().route("/ping", axum::routing::get(|| async { "pong" }));
        axum::serve(upstream, router).await
    });

    let mut example = tokio::process::Command::new(e2e::example("axum_service")?)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
        // Nothing is exported before shutdown: only the flush can deliver.
        .env("OTEL_BSP_SCHEDULE_DELAY", "600000")
        .env(
            "DATABASE_URL",
            "postgres://postgres:postgres@127.0.0.1:5432/postgres",
        )
        .env("UPSTREAM_URL", &upstream_url)
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = BufReader::new(example.stdout.take().expect("piped")).lines();
    let port = loop {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await??
            .ok_or_else(|| anyhow::anyhow!("the example exited before listening"))?;
        let value: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if let Some(port) = value.get("server.port").and_then(serde_json::Value::as_u64) {
            break port;
        }
    };

    let answer = e2e::http_client()
        .get(format!("http://127.0.0.1:{port}/hello/ada"))
        .send()
        .await?;
    assert_eq!(answer.status(), 200);
    let traceresponse = answer.headers()["traceresponse"].to_str()?.to_owned();
    let trace_id = traceresponse
        .split('-')
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    assert!(answer.text().await?.starts_with("hello ada"));
    assert!(
        receiver.trace(&trace_id).is_empty(),
        "exported before shutdown"
    );

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(example.id().unwrap_or_default())?),
        nix::sys::signal::Signal::SIGINT,
    )?;
    let status = tokio::time::timeout(Duration::from_secs(15), example.wait()).await??;
    assert!(status.success(), "{status}");

    let spans = receiver.trace(&trace_id);
    let tree = TraceTree::new(&spans);
    let server = tree
        .find("axum-example", "GET /hello/{name}")
        .unwrap_or_else(|| panic!("no SERVER span:\n{}", tree.render()));
    assert_eq!(server.kind, SpanKind::Server);
    for name in ["SELECT pg_database", "GET"] {
        let client = tree
            .find("axum-example", name)
            .unwrap_or_else(|| panic!("no {name} span:\n{}", tree.render()));
        assert_eq!(client.kind, SpanKind::Client, "{name}");
        assert_eq!(
            client.parent_span_id.as_deref(),
            Some(server.span_id.as_str()),
            "{name}"
        );
    }
    Ok(())
}

/// `nats_pair`: `create`, `send` and `process` of one message, one trace,
/// the consumer's span parented by and linked to the creation.
#[tokio::test(flavor = "multi_thread")]
async fn the_nats_example_traces_a_message_from_creation_to_consumer() -> anyhow::Result<()> {
    let receiver = OtlpReceiver::start()?;
    let nats = e2e::NatsServer::start()?;
    let status = tokio::process::Command::new(e2e::example("nats_pair")?)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
        .env("NATS_URL", nats.url())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .status();
    let status = tokio::time::timeout(Duration::from_secs(30), status).await??;
    assert!(status.success(), "{status}");

    let spans = receiver.spans();
    let tree = TraceTree::new(&spans);
    let find = |name: &str, kind: SpanKind| {
        let span = tree
            .find("nats-example", name)
            .unwrap_or_else(|| panic!("no {name}:\n{}", tree.render()));
        assert_eq!(span.kind, kind, "{name}");
        span
    };
    let create = find("create example.greetings", SpanKind::Producer);
    let send = find("send example.greetings", SpanKind::Client);
    let process = find("process example.greetings", SpanKind::Consumer);
    for child in [send, process] {
        assert_eq!(
            child.trace_id,
            create.trace_id,
            "one trace:\n{}",
            tree.render()
        );
        assert_eq!(
            child.parent_span_id.as_deref(),
            Some(create.span_id.as_str())
        );
    }
    assert!(
        process
            .links
            .iter()
            .any(|link| link.span_id == create.span_id),
        "process links to the creation"
    );
    Ok(())
}
