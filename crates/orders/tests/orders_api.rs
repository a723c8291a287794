//! orders on its own, in-process: the app that `main` builds, on port 0,
//! with a database of its own, telemetry exported over OTLP to a receiver
//! in the test. A template for a service's tests: copy this folder with the
//! service. (The whole suite, six processes, is tested in `crates/e2e`.)

#![allow(
    clippy::expect_used,
    reason = "a test that cannot set itself up fails with the reason"
)]

use std::{net::SocketAddr, sync::OnceLock, time::Duration};

use clap::Parser;
use e2e::{OtlpReceiver, SpanKind, TraceTree};
use telemetry::{TelemetryGuard, config::TelemetryConfig};

/// Telemetry is process-wide (one global subscriber), so the tests of this
/// binary share it and its receiver.
fn telemetry() -> &'static (OtlpReceiver, TelemetryGuard) {
    static TELEMETRY: OnceLock<(OtlpReceiver, TelemetryGuard)> = OnceLock::new();
    TELEMETRY.get_or_init(|| {
        let receiver = OtlpReceiver::start().expect("an OTLP receiver");
        let vars = [(
            "OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(),
            receiver.endpoint(),
        )];
        let config = TelemetryConfig::from_vars("orders", vars.into()).expect("a configuration");
        let guard = telemetry::init_with(&config).expect("telemetry");
        (receiver, guard)
    })
}

/// orders, serving on a random port, and how to reach it.
struct TestApp {
    address: SocketAddr,
    database: String,
    receiver: &'static OtlpReceiver,
}

impl TestApp {
    /// Builds the app as `main` does, against a fresh database; payments and
    /// NATS point at nothing (every path here works without them).
    async fn spawn() -> Self {
        let (receiver, _) = telemetry();
        let database = format!(
            "orders_test_{}",
            platform::id::new("db").trim_start_matches("db_")
        );
        let config = orders::Config::parse_from([
            "orders",
            "--listen-addr=127.0.0.1:0",
            &format!("--database-url=postgres://postgres:postgres@127.0.0.1:5432/{database}"),
            "--payments-url=http://127.0.0.1:9",
            "--nats-url=nats://127.0.0.1:9",
        ]);
        let server = orders::build(config).await.expect("orders builds");
        let address = server.local_addr().expect("an address");
        tokio::spawn(server.run(std::future::pending()));
        Self {
            address,
            database,
            receiver,
        }
    }

    /// Drops the test's database, connections and all.
    async fn drop_database(self) {
        use sqlx::Connection;
        let url = "postgres://postgres:postgres@127.0.0.1:5432/postgres";
        let mut admin = sqlx::PgConnection::connect(url).await.expect("Postgres");
        let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.database);
        // The name is the test's own: `orders_test_` and hex digits.
        sqlx::query(sqlx::AssertSqlSafe(drop))
            .execute(&mut admin)
            .await
            .expect("dropped");
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        e2e::http_client()
            .get(format!("http://{}{path}", self.address))
            .send()
            .await
            .expect("an answer")
    }

    /// The spans of `trace_id`, once the provider has exported them.
    async fn trace(&self, trace_id: &str, count: usize) -> Vec<e2e::Span> {
        telemetry().1.force_flush();
        let until = |spans: &[e2e::Span]| spans.len() >= count;
        self.receiver
            .wait_for_trace(trace_id, until, Duration::from_secs(10))
            .await
    }
}

fn trace_id(response: &reqwest::Response) -> String {
    let header = response.headers()["traceresponse"]
        .to_str()
        .unwrap_or_default();
    header.split('-').nth(1).unwrap_or_default().to_owned()
}

#[tokio::test]
async fn an_unknown_order_is_a_404_problem_and_its_lookup_is_traced() {
    let app = TestApp::spawn().await;

    let response = app
        .get("/orders/ord_0000000000000000000000000000beef")
        .await;

    assert_eq!(response.status(), 404);
    let trace_id = trace_id(&response);
    let problem: serde_json::Value = response.json().await.expect("problem+json");
    assert_eq!(problem["status"], 404);
    assert_eq!(problem["trace_id"], trace_id.as_str());
    let spans = app.trace(&trace_id, 2).await;
    let tree = TraceTree::new(&spans);
    let server = tree
        .find("orders", "GET /orders/{order_id}")
        .expect("the SERVER span");
    assert_eq!(server.kind, SpanKind::Server);
    assert_eq!(server.int_attr("http.response.status_code"), Some(404));
    assert!(!server.is_error(), "a 4xx is the caller's mistake");
    let lookup = tree
        .find("orders", "SELECT orders")
        .expect("the statement's span");
    assert_eq!(
        lookup.parent_span_id.as_deref(),
        Some(server.span_id.as_str())
    );
    assert_eq!(lookup.str_attr("db.system.name"), Some("postgresql"));
    app.drop_database().await;
}

#[tokio::test]
async fn a_path_that_is_no_order_id_is_404_before_any_statement() {
    let app = TestApp::spawn().await;

    let response = app.get("/orders/..%2Fusers").await;

    assert_eq!(response.status(), 404);
    let trace_id = trace_id(&response);
    let spans = app.trace(&trace_id, 1).await;
    assert!(
        spans.iter().all(|span| !span.name.starts_with("SELECT")),
        "no statement ran: {spans:?}"
    );
    app.drop_database().await;
}
