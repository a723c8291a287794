use axum::{extract::State, http::StatusCode};

use crate::AppState;

/// Ready when the database answers.
pub async fn ready(State(state): State<AppState>) -> (StatusCode, &'static str) {
    platform::health::readiness(state.db.ping().await)
}
