//! The send-and-render path against a stand-in on loopback that plays both
//! the gateway and Tempo, the way a user runs the tool against the stack.

use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use checkout::{Cli, Patience};
use clap::Parser;
use serde_json::{Value, json};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const FIXTURE: &str = include_str!("fixtures/tempo-trace.json");

/// A checkout the stand-in gateway received.
struct Received {
    body: Value,
    idempotency_key: Option<String>,
}

#[derive(Clone, Default)]
struct StandIn {
    checkouts: Arc<Mutex<Vec<Received>>>,
    /// Reads of the trace; the first one finds nothing, as when Tempo has
    /// not ingested it yet.
    trace_reads: Arc<AtomicUsize>,
}

async fn checkout(
    State(state): State<StandIn>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let idempotency_key = headers
        .get("idempotency-key")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    received(&state).push(Received {
        body,
        idempotency_key,
    });
    let problem = json!({
        "type": "https://tracing-suite.example/problems/card-declined",
        "title": "Card declined",
        "status": 402,
        "detail": "The card was declined.",
        "trace_id": TRACE_ID,
        "order_id": "ord_0001",
    });
    (
        StatusCode::PAYMENT_REQUIRED,
        [
            (header::CONTENT_TYPE.as_str(), "application/problem+json"),
            (
                "traceresponse",
                &format!("00-{TRACE_ID}-a1b2c3d4e5f60718-01"),
            ),
        ],
        problem.to_string(),
    )
        .into_response()
}

async fn trace(State(state): State<StandIn>, Path(trace_id): Path<String>) -> Response {
    let reads = state.trace_reads.fetch_add(1, Ordering::SeqCst);
    if trace_id != TRACE_ID || reads == 0 {
        return StatusCode::NOT_FOUND.into_response();
    }
    ([(header::CONTENT_TYPE, "application/json")], FIXTURE).into_response()
}

fn received(state: &StandIn) -> std::sync::MutexGuard<'_, Vec<Received>> {
    state
        .checkouts
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// Serves the stand-in on 127.0.0.1 and gives its base URL.
async fn start(state: StandIn) -> std::io::Result<String> {
    let app = Router::new()
        .route("/checkout", post(checkout))
        .route("/api/v2/traces/{trace_id}", get(trace))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

/// A loopback address nothing listens on.
async fn closed_port() -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    Ok(format!("http://{}", listener.local_addr()?))
}

fn patience() -> Patience {
    Patience {
        total: Duration::from_secs(5),
        quiet: Duration::from_millis(100),
        poll: Duration::from_millis(20),
    }
}

/// Runs the tool as `checkout <args>`: its output, and its exit code.
async fn run(args: &[&str]) -> anyhow::Result<(String, ExitCode)> {
    let cli = Cli::try_parse_from([&["checkout"], args].concat())?;
    let mut out = Vec::new();
    let code = checkout::run(&cli, patience(), &mut out).await?;
    Ok((String::from_utf8(out)?, code))
}

#[tokio::test]
async fn a_declined_checkout_prints_its_line_and_its_trace() {
    let state = StandIn::default();
    let url = start(state.clone()).await.unwrap();

    let (out, code) = run(&[
        "--gateway",
        &url,
        "--tempo",
        &url,
        "--declined",
        "--idempotency-key",
        "key-1",
    ])
    .await
    .unwrap();

    assert_eq!(code, ExitCode::SUCCESS);
    let (first, rest) = out.split_once('\n').unwrap();
    assert!(first.starts_with("402 Payment Required  "), "{first}");
    let link = checkout::grafana::trace_url(&"http://localhost:3000".parse().unwrap(), TRACE_ID);
    assert!(
        first.ends_with(&format!(
            "  order ord_0001  card-declined: The card was declined.  trace {TRACE_ID}  {link}"
        )),
        "{first}"
    );
    let tree = checkout::tree::render(&checkout::tempo::parse_trace(FIXTURE).unwrap());
    assert_eq!(
        rest,
        format!("waiting for trace {TRACE_ID} in Tempo (up to 5 s)...\n{tree}")
    );
    assert!(
        state.trace_reads.load(Ordering::SeqCst) >= 2,
        "a 404 is retried"
    );

    let checkouts = received(&state);
    assert_eq!(checkouts[0].body["card"]["number"], "4000000000000002");
    assert_eq!(checkouts[0].idempotency_key.as_deref(), Some("key-1"));
}

#[tokio::test]
async fn an_unreachable_tempo_is_one_line() {
    let url = start(StandIn::default()).await.unwrap();
    let tempo = closed_port().await.unwrap();

    let (out, code) = run(&["--gateway", &url, "--tempo", &tempo]).await.unwrap();

    assert_eq!(code, ExitCode::SUCCESS);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[2].starts_with(&format!(
            "Tempo at {tempo}/api/v2/traces/{TRACE_ID} is unreachable: "
        )),
        "{out}"
    );
    // It says how to get a Tempo, with Docker or without.
    assert!(
        lines[2].ends_with("`scripts/run-native.sh`, which keeps traces for this tool"),
        "{out}"
    );
}

#[tokio::test]
async fn count_sends_that_many_and_sums_up_without_a_trace() {
    let state = StandIn::default();
    let url = start(state.clone()).await.unwrap();

    let (out, _) = run(&[
        "--gateway",
        &url,
        "--tempo",
        &url,
        "--count",
        "3",
        "--concurrency",
        "2",
    ])
    .await
    .unwrap();

    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(
        lines[..3].iter().all(|line| line.starts_with("402 ")),
        "{out}"
    );
    assert!(
        lines[3].starts_with("3 checkouts: 3 x 402; latency min "),
        "{out}"
    );
    assert_eq!(received(&state).len(), 3);
    assert_eq!(state.trace_reads.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn no_answer_from_the_gateway_fails_the_run() {
    let gateway = closed_port().await.unwrap();

    let (out, code) = run(&["--gateway", &gateway]).await.unwrap();

    assert_eq!(code, ExitCode::FAILURE);
    assert!(out.starts_with("no answer  "), "{out}");
    assert_eq!(out.lines().count(), 1, "{out}");
}
