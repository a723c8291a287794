use axum::{extract::State, http::StatusCode};

use crate::AppState;

/// Ready when the database answers and payments is alive.
pub async fn ready(State(state): State<AppState>) -> (StatusCode, &'static str) {
    let (db, payments) = tokio::join!(state.db.ping(), state.payments.is_alive());
    platform::health::readiness(db && payments)
}
