//! The telemetry crate in someone else's service: `examples/consumer`, a
//! project outside the workspace whose `Cargo.toml` is the block in
//! `docs/telemetry-crate.md`,
//! built and run as its user would, with a quiet `RUST_LOG`, calling an
//! `https` service and exporting over `https` (mutual TLS) to a receiver,
//! each with a certificate authority of the test's own.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed check is a panic with the reason in its message"
)]

use std::{
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Router, http::HeaderMap, routing::get};
use e2e::{
    AttributeValue, OtlpReceiver, SpanKind, TraceTree,
    tls::{TestCa, serve_https, write_pem},
};
use tokio::io::{AsyncBufReadExt, BufReader};

/// The caller's trace, which the consumer's spans must join.
const CALLER_TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[tokio::test(flavor = "multi_thread")]
async fn with_rust_log_warn_the_trace_is_whole_over_tls_and_third_party_lines_are_exported()
-> anyhow::Result<()> {
    let run = run_consumer("warn").await?;
    run.assert_trace_is_whole();

    // tower-http's TraceLayer logs each response at WARN: RUST_LOG=warn
    // lets it through, and it reaches OTLP like any other line, in its trace.
    let logs = run.receiver.logs();
    let response_line = logs
        .iter()
        .find(|record| record.body.contains("finished processing request"))
        .unwrap_or_else(|| panic!("no tower-http line among {} records", logs.len()));
    assert_eq!(response_line.severity_text, "WARN");
    assert_eq!(
        response_line.trace_id.as_deref(),
        Some(CALLER_TRACE_ID),
        "the line is not in the request's trace"
    );
    // RUST_LOG=warn: no INFO line is logged, whatever is traced.
    assert!(
        logs.iter().all(|record| record.severity_text != "INFO"),
        "an INFO record with RUST_LOG=warn"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn with_rust_log_off_nothing_is_logged_and_the_trace_is_still_whole() -> anyhow::Result<()> {
    let run = run_consumer("off").await?;
    run.assert_trace_is_whole();
    assert!(
        run.receiver.logs().is_empty(),
        "log records with RUST_LOG=off"
    );
    Ok(())
}

/// What one run of the consumer left: its answer, what its callee saw, and
/// what it exported.
struct Run {
    receiver: OtlpReceiver,
    traceresponse: String,
    body: String,
    upstream_headers: Vec<HeaderMap>,
}

/// Starts an `https` callee and an `https` receiver (each with its own
/// authority; the receiver asks for a client certificate), runs the
/// consumer with `rust_log`, sends it one request with a caller's trace
/// and baggage, and stops it.
async fn run_consumer(rust_log: &str) -> anyhow::Result<Run> {
    let consumer = e2e::consumer()?;
    let dir = tempdir()?;

    // The callee, trusted through the platform's roots (SSL_CERT_FILE is
    // where rustls-native-certs looks first).
    let callee_ca = TestCa::new()?;
    let seen = Arc::new(Mutex::new(Vec::<HeaderMap>::new()));
    let router = Router::new().route(
        "/ping",
        get({
            let seen = Arc::clone(&seen);
            move |headers: HeaderMap| async move {
                seen.lock().unwrap().push(headers);
                "pong"
            }
        }),
    );
    let callee = serve_https(router, callee_ca.server_config(None)?).await?;

    // The receiver, trusted through OTEL_EXPORTER_OTLP_CERTIFICATE only,
    // and trusting only clients with a certificate from `client_ca`.
    let receiver_ca = TestCa::new()?;
    let client_ca = TestCa::new()?;
    let client = client_ca.issue()?;
    let receiver = OtlpReceiver::start_tls(receiver_ca.server_config(Some(&client_ca))?)?;

    let mut child = tokio::process::Command::new(consumer)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", rust_log)
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env(
            "DATABASE_URL",
            format!(
                "postgres://postgres:postgres@{}/postgres?sslmode=require",
                e2e::suite::POSTGRES_ADDRESS
            ),
        )
        .env(
            "UPSTREAM_URL",
            format!("https://localhost:{}/ping", callee.port()),
        )
        .env(
            "SSL_CERT_FILE",
            write_pem(&dir, "callee-ca.pem", &callee_ca.certificate())?,
        )
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
        .env(
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
            write_pem(&dir, "receiver-ca.pem", &receiver_ca.certificate())?,
        )
        .env(
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
            write_pem(&dir, "client.pem", &client.certificate)?,
        )
        .env(
            "OTEL_EXPORTER_OTLP_CLIENT_KEY",
            write_pem(&dir, "client-key.pem", &client.key)?,
        )
        .env(
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment.name=test",
        )
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let address = loop {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await??
            .ok_or_else(|| anyhow::anyhow!("the consumer exited before listening"))?;
        if let Some(address) = line.strip_prefix("listening on ") {
            break address.to_owned();
        }
    };

    let answer = e2e::http_client()
        .get(format!("http://{address}/hello/ada"))
        .header("traceparent", CALLER_TRACEPARENT)
        .header("baggage", "tenant=acme")
        .send()
        .await?;
    assert_eq!(answer.status(), 200, "{:?}", answer.text().await);
    let traceresponse = answer
        .headers()
        .get("traceresponse")
        .map(|value| value.to_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    let body = answer.text().await?;

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id().unwrap_or_default())?),
        nix::sys::signal::Signal::SIGINT,
    )?;
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait()).await??;
    assert!(status.success(), "the consumer exited with {status}");
    let _ = std::fs::remove_dir_all(&dir);

    let upstream_headers = seen.lock().unwrap().clone();
    Ok(Run {
        receiver,
        traceresponse,
        body,
        upstream_headers,
    })
}

impl Run {
    fn assert_trace_is_whole(&self) {
        // Postgres over TLS, the callee over https.
        assert_eq!(
            self.body,
            "hello ada: database over TLS true, upstream 200 OK\n"
        );
        // traceresponse names the caller's trace.
        assert!(
            self.traceresponse
                .starts_with(&format!("00-{CALLER_TRACE_ID}-")),
            "traceresponse {:?}",
            self.traceresponse
        );
        // The callee got the trace and the caller's baggage.
        let [headers] = self.upstream_headers.as_slice() else {
            panic!(
                "the callee was called {} times",
                self.upstream_headers.len()
            );
        };
        let traceparent = headers
            .get("traceparent")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        assert!(
            traceparent.starts_with(&format!("00-{CALLER_TRACE_ID}-")),
            "the callee got traceparent {traceparent:?}"
        );
        let baggage = headers
            .get("baggage")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        assert!(
            baggage.contains("tenant=acme"),
            "the callee got baggage {baggage:?}"
        );

        // Exported over https with a client certificate: the whole tree.
        let spans = self.receiver.trace(CALLER_TRACE_ID);
        let tree = TraceTree::new(&spans);
        let server = tree
            .find("consumer", "GET /hello/{name}")
            .unwrap_or_else(|| panic!("no SERVER span:\n{}", tree.render()));
        assert_eq!(server.kind, SpanKind::Server);
        assert_eq!(
            server.parent_span_id.as_deref(),
            Some("00f067aa0ba902b7"),
            "the SERVER span is not the caller's child"
        );
        let call = tree
            .find("consumer", "GET")
            .unwrap_or_else(|| panic!("no CLIENT span for the call:\n{}", tree.render()));
        assert_eq!(call.kind, SpanKind::Client);
        assert_eq!(
            call.attr("url.full").and_then(AttributeValue::as_str),
            Some(format!("https://localhost:{}/ping", self.callee_port()).as_str())
        );
        let statement = tree
            .find("consumer", "SELECT pg_stat_ssl")
            .unwrap_or_else(|| panic!("no CLIENT span for the statement:\n{}", tree.render()));
        assert_eq!(statement.kind, SpanKind::Client);

        // The resource: the SDK's, the service's own version, an instance
        // id per process, and what OTEL_RESOURCE_ATTRIBUTES adds.
        let resource = &server.resource;
        let text = |key: &str| {
            resource
                .get(key)
                .and_then(AttributeValue::as_str)
                .unwrap_or_else(|| panic!("no {key} in the resource {resource:?}"))
        };
        assert_eq!(text("service.name"), "consumer");
        assert_eq!(text("service.version"), "2.3.1");
        assert_eq!(text("telemetry.sdk.name"), "opentelemetry");
        assert_eq!(text("telemetry.sdk.language"), "rust");
        assert!(
            text("telemetry.sdk.version").starts_with("0.33."),
            "telemetry.sdk.version {}",
            text("telemetry.sdk.version")
        );
        let instance = text("service.instance.id");
        assert!(
            instance.len() == 36 && instance.chars().filter(|c| *c == '-').count() == 4,
            "service.instance.id {instance:?} is not a UUID"
        );
        assert_eq!(text("deployment.environment.name"), "test");
    }

    fn callee_port(&self) -> u16 {
        let traceparent_host = self
            .upstream_headers
            .first()
            .and_then(|headers| headers.get("host"))
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        traceparent_host
            .rsplit(':')
            .next()
            .and_then(|port| port.parse().ok())
            .unwrap_or_default()
    }
}

/// A fresh folder for the test's PEM files.
fn tempdir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "consumer-tls-{}-{}",
        std::process::id(),
        rand::random::<u64>()
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
