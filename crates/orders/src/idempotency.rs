//! `Idempotency-Key`: the first request with a key runs; the same key with
//! the same request gets that first answer again, status and body; the
//! same key with another request gets 409 and changes nothing.
//!
//! Requests that arrive while the first is still running wait for its
//! answer (up to [`WAIT`]), so fifty concurrent retries of one checkout
//! all get the same order. An answer that was our failure (5xx) is not
//! kept: the key is released, and the caller's retry runs again; except
//! when the card may have been charged (`payment_unknown`): that answer is
//! kept, so a retry gets the same order id to follow instead of a second
//! order and a second charge. Keys expire after 24 hours.

use std::{fmt::Write as _, time::Duration};

use anyhow::Context;
use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use platform::Problem;
use serde_json::Value;
use sha2::{Digest, Sha256};
use telemetry::db::Database;

use crate::{db, error::ApiError};

/// How long a repeat waits for the first request's answer: longer than a
/// checkout takes, shorter than the gateway's own deadline.
const WAIT: Duration = Duration::from_secs(9);
const POLL: Duration = Duration::from_millis(50);

/// What a request with a key should do.
pub enum Begin {
    /// This request owns the key: run it, then [`finish`].
    Run,
    /// The answer to give again.
    Replay(Response),
}

/// A request's fingerprint: SHA-256 of the parts that make it this request.
pub fn fingerprint(parts: &Value) -> String {
    let digest = Sha256::digest(parts.to_string().as_bytes());
    digest
        .iter()
        .fold(String::with_capacity(64), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

pub async fn begin(db: &Database, key: &str, fingerprint: &str) -> Result<Begin, ApiError> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if db::idempotency::claim(db, key, fingerprint)
            .await
            .context("claiming the idempotency key")?
        {
            return Ok(Begin::Run);
        }
        // Released (the first request failed on our side) between the two
        // statements: try to claim it again.
        let Some(row) = db::idempotency::find(db, key)
            .await
            .context("reading the idempotency key")?
        else {
            continue;
        };
        if row.fingerprint != fingerprint {
            return Err(ApiError::IdempotencyKeyReused);
        }
        if let (Some(status), Some(body)) = (row.response_status, row.response_body) {
            tracing::info!(name: "order.idempotent_replay", "idempotent replay");
            crate::metrics::idempotent_replay();
            return Ok(Begin::Replay(replay(status, &body)));
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ApiError::IdempotencyKeyInProgress);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Keeps the answer for the key (or releases the key after a failure of
/// ours), and returns the response.
pub async fn finish<T: serde::Serialize>(
    db: &Database,
    key: &str,
    outcome: Result<(StatusCode, T), ApiError>,
) -> Response {
    let may_have_charged = matches!(outcome, Err(ApiError::PaymentUnknown { .. }));
    let (status, body) = match outcome {
        Ok((status, body)) => (status, serde_json::to_value(body).unwrap_or(Value::Null)),
        Err(error) => {
            let problem = error.into_problem();
            (
                problem.status_code(),
                serde_json::to_value(&problem).unwrap_or(Value::Null),
            )
        }
    };
    let kept = if status.is_server_error() && !may_have_charged {
        db::idempotency::release(db, key).await
    } else {
        db::idempotency::answer(db, key, status.as_u16(), body.to_string()).await
    };
    if let Err(error) = kept {
        // The answer still goes out; a retry will find the key running and
        // wait, then run again once the key expires.
        tracing::warn!(exception.message = %error, "the idempotent answer was not stored");
    }
    replay(i32::from(status.as_u16()), &body.to_string())
}

/// A stored answer as a response: a body for a success, a problem (with
/// this request's trace id) for a failure.
fn replay(status: i32, body: &str) -> Response {
    let status = u16::try_from(status)
        .ok()
        .and_then(|status| StatusCode::from_u16(status).ok())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status.is_success() {
        let body: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        return (status, Json(body)).into_response();
    }
    serde_json::from_str::<Problem>(body)
        .unwrap_or_else(|_| Problem::internal())
        .into_response()
}
