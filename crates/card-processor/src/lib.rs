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
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::post,
};
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
}

const APPROVED_CARD: &str = "4242424242424242";
const DECLINED_CARD: &str = "4000000000000002";

/// Answers already given, by idempotency key, as a real processor keeps
/// them: a retried charge must never charge twice.
#[derive(Clone, Default)]
struct Charges {
    by_idempotency_key: Arc<Mutex<HashMap<String, (StatusCode, Value)>>>,
    latency: Duration,
}

pub async fn build(config: &Config) -> std::io::Result<platform::Server> {
    let router = Router::new()
        .route("/v1/charges", post(create_charge))
        .with_state(Charges {
            latency: Duration::from_millis(config.charge_latency_ms),
            ..Charges::default()
        })
        .merge(platform::health::liveness())
        .route("/readyz", axum::routing::get(|| async { "ready" }));
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
    tokio::time::sleep(charges.latency).await;
    let key = headers
        .get("idempotency-key")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let mut answers = charges
        .by_idempotency_key
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((status, body)) = key.as_ref().and_then(|key| answers.get(key)) {
        return (*status, Json(body.clone()));
    }
    let (status, body) = decide(&request);
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
