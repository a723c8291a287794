//! `card-processor`: a stand-in for an external card API, in the manner of
//! Stripe's test mode.
//!
//! It is the one process of the suite that is not instrumented: in a trace
//! it appears only as the `payments` CLIENT span that called it, exactly as
//! a real third-party API would.
//!
//! - `POST /v1/charges` with `{amount, currency, card}` and an optional
//!   `Idempotency-Key` header: `4242424242424242` is approved,
//!   `4000000000000002` is declined, any other number is declined as
//!   `incorrect_number`. A repeated key answers the first answer again.
//! - `GET /v1/charges/by-idempotency-key/{key}`: the answer given to that
//!   key, or 404 if no charge with it ever arrived. This is how a caller
//!   whose charge timed out learns what became of it.
//! - With `FAULTS_ENABLED=true`, a `fault.card_processor` baggage entry
//!   (read by hand: nothing here is instrumented) makes a charge fail
//!   (`error`: 500, nothing charged), wait (`latency:<n>ms`), or be charged
//!   and then never answered (`timeout`).
//!
//! # Layout
//!
//! Everything is in this file: the stand-in is deliberately small.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Json, Router,
    extract::Path,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::{get, post},
};
use platform::faults::Fault;
use serde::Deserialize;
use serde_json::{Value, json};

/// The card processor stand-in.
#[derive(Debug, clap::Parser)]
#[command(version, about)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "0.0.0.0:8085")]
    pub listen_addr: SocketAddr,

    /// How long each charge takes, in milliseconds: a real processor takes
    /// hundreds, and a slow one is how a demo or a test shows in-flight work.
    #[arg(long, env = "CHARGE_LATENCY_MS", default_value_t = 0)]
    pub charge_latency_ms: u64,

    #[command(flatten)]
    pub faults: platform::faults::Switch,
}

/// How long a `timeout` fault holds the answer back: longer than any
/// caller waits.
const UNANSWERED: Duration = Duration::from_mins(1);

const APPROVED_CARD: &str = "4242424242424242";
const DECLINED_CARD: &str = "4000000000000002";

/// Answers already given, by idempotency key, as a real processor keeps
/// them: a retried charge must never charge twice.
#[derive(Clone, Default)]
struct Charges {
    by_idempotency_key: Arc<Mutex<HashMap<String, (StatusCode, Value)>>>,
    latency: Duration,
    faults: platform::faults::Switch,
}

pub async fn build(config: &Config) -> std::io::Result<platform::Server> {
    let router = Router::new()
        .route("/v1/charges", post(create_charge))
        .route(
            "/v1/charges/by-idempotency-key/{key}",
            get(find_by_idempotency_key),
        )
        .with_state(Charges {
            latency: Duration::from_millis(config.charge_latency_ms),
            faults: config.faults,
            ..Charges::default()
        })
        .merge(platform::health::liveness())
        .route("/readyz", get(|| async { "ready" }));
    platform::Server::bind(config.listen_addr, router).await
}

/// No `Debug`: this holds a full card number.
#[derive(Deserialize)]
struct ChargeRequest {
    amount: i64,
    currency: String,
    card: CardDetails,
}

#[derive(Deserialize)]
struct CardDetails {
    number: String,
}

async fn create_charge(
    State(charges): State<Charges>,
    headers: HeaderMap,
    Json(request): Json<ChargeRequest>,
) -> (StatusCode, Json<Value>) {
    let fault = charges
        .faults
        .enabled
        .then(|| platform::faults::requested(&headers, "card_processor"))
        .flatten();
    match fault {
        Some(Fault::Error) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({"error": {"type": "api_error", "message": "injected fault"}})),
            );
        }
        Some(Fault::Latency(latency)) => tokio::time::sleep(latency).await,
        _ => {}
    }
    tokio::time::sleep(charges.latency).await;
    let answer = charges.answer(&headers, &request);
    if fault == Some(Fault::Timeout) {
        // Charged, and the answer never sent: the caller must find out
        // later with the same idempotency key.
        tokio::time::sleep(UNANSWERED).await;
    }
    answer
}

async fn find_by_idempotency_key(
    State(charges): State<Charges>,
    Path(key): Path<String>,
) -> (StatusCode, Json<Value>) {
    let answers = charges.answers();
    match answers.get(&key) {
        Some((status, body)) => (*status, Json(body.clone())),
        None => (
            StatusCode::NOT_FOUND,
            Json(
                json!({"error": {"type": "invalid_request_error", "code": "resource_missing", "message": "No charge with this idempotency key."}}),
            ),
        ),
    }
}

impl Charges {
    fn answers(&self) -> std::sync::MutexGuard<'_, HashMap<String, (StatusCode, Value)>> {
        self.by_idempotency_key
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Decides a charge, or repeats the answer given to its key.
    fn answer(&self, headers: &HeaderMap, request: &ChargeRequest) -> (StatusCode, Json<Value>) {
        let key = headers
            .get("idempotency-key")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let mut answers = self.answers();
        if let Some((status, body)) = key.as_ref().and_then(|key| answers.get(key)) {
            return (*status, Json(body.clone()));
        }
        let (status, body) = decide(request);
        tracing::info!(
            status = status.as_u16(),
            amount = request.amount,
            "charge answered"
        );
        if let Some(key) = key {
            answers.insert(key, (status, body.clone()));
        }
        (status, Json(body))
    }
}

fn decide(request: &ChargeRequest) -> (StatusCode, Value) {
    match request.card.number.as_str() {
        APPROVED_CARD => (
            StatusCode::OK,
            json!({
                "id": format!("ch_{}", uuid::Uuid::now_v7().simple()),
                "object": "charge",
                "status": "succeeded",
                "amount": request.amount,
                "currency": request.currency.to_lowercase(),
            }),
        ),
        DECLINED_CARD => declined(
            "card_declined",
            "generic_decline",
            "Your card was declined.",
        ),
        _ => declined(
            "incorrect_number",
            "incorrect_number",
            "Your card number is incorrect.",
        ),
    }
}

fn declined(code: &str, decline_code: &str, message: &str) -> (StatusCode, Value) {
    (
        StatusCode::PAYMENT_REQUIRED,
        json!({"error": {"type": "card_error", "code": code, "decline_code": decline_code, "message": message}}),
    )
}
