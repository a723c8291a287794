use axum::{extract::State, http::StatusCode};

use crate::AppState;

/// Ready when the database answers. The card processor is not probed: it
/// is a third party, and payments can still answer (503) without it.
pub async fn ready(State(state): State<AppState>) -> (StatusCode, &'static str) {
    platform::health::readiness(state.db.ping().await)
}
