use axum::{extract::State, http::StatusCode};

use crate::AppState;

/// Ready when every service a checkout needs answers.
pub async fn ready(State(state): State<AppState>) -> (StatusCode, &'static str) {
    let (users, orders, notifications) = tokio::join!(
        state.users.is_alive(),
        state.orders.is_alive(),
        state.notifications.is_alive()
    );
    platform::health::readiness(users && orders && notifications)
}
