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
//!   `incorrect_number`. A repeated key answers the first answer again, or
//!   409 while the first is still being processed.
//! - `GET /v1/charges/by-idempotency-key/{key}`: the answer given to that
//!   key, 409 while it is being processed, or 404 if no charge with it
//!   ever arrived (or its caller went away before it was processed). This
//!   is how a caller whose charge timed out learns what became of it.
//! - With `FAULTS_ENABLED=true`, a `fault.card_processor` baggage entry
//!   (read straight from the header: nothing here is instrumented) makes a charge fail
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
    by_idempotency_key: Arc<Mutex<HashMap<String, Entry>>>,
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
    if fault == Some(Fault::Error) {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": {"type": "api_error", "message": "injected fault"}})),
        );
    }
    let key = headers
        .get("idempotency-key")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let claim = match charges.claim(key) {
        Ok(claim) => claim,
        Err(earlier) => return earlier,
    };
    if let Some(Fault::Latency(latency)) = fault {
        tokio::time::sleep(latency).await;
    }
    tokio::time::sleep(charges.latency).await;
    let (status, body) = decide(&request);
    tracing::info!(
        status = status.as_u16(),
        amount = request.amount,
        "charge answered"
    );
    claim.answer(status, body.clone());
    if fault == Some(Fault::Timeout) {
        // Charged, and the answer never sent: the caller must find out
        // later with the same idempotency key.
        tokio::time::sleep(UNANSWERED).await;
    }
    (status, Json(body))
}

async fn find_by_idempotency_key(
    State(charges): State<Charges>,
    Path(key): Path<String>,
) -> (StatusCode, Json<Value>) {
    match charges.entries().get(&key) {
        Some(entry) => entry.response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(
                json!({"error": {"type": "invalid_request_error", "code": "resource_missing", "message": "No charge with this idempotency key."}}),
            ),
        ),
    }
}

/// What the processor holds for one idempotency key.
#[derive(Clone)]
enum Entry {
    /// A charge with this key is being processed: its outcome is not known
    /// yet, to anybody.
    InProgress,
    Answered(StatusCode, Value),
}

impl Entry {
    fn response(&self) -> (StatusCode, Json<Value>) {
        match self {
            Self::InProgress => (
                StatusCode::CONFLICT,
                Json(
                    json!({"error": {"type": "idempotency_error", "code": "request_in_progress", "message": "A request with this idempotency key is being processed."}}),
                ),
            ),
            Self::Answered(status, body) => (*status, Json(body.clone())),
        }
    }
}

/// A key claimed by the request processing it. Dropped before it was
/// answered (the caller went away mid-charge), it frees the key: that
/// charge never happened.
struct Claim {
    charges: Charges,
    key: Option<String>,
}

impl Claim {
    fn answer(mut self, status: StatusCode, body: Value) {
        if let Some(key) = self.key.take() {
            self.charges
                .entries()
                .insert(key, Entry::Answered(status, body));
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.charges.entries().remove(&key);
        }
    }
}

impl Charges {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.by_idempotency_key
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Claims `key` for a new charge, or answers what the key already has:
    /// the first answer again, or 409 while the first is in progress.
    fn claim(&self, key: Option<String>) -> Result<Claim, (StatusCode, Json<Value>)> {
        if let Some(key) = &key {
            let mut entries = self.entries();
            if let Some(entry) = entries.get(key) {
                return Err(entry.response());
            }
            entries.insert(key.clone(), Entry::InProgress);
        }
        Ok(Claim {
            charges: self.clone(),
            key,
        })
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
