use axum::{extract::State, response::IntoResponse};

use crate::AppState;

/// `GET /`: the shop page, carrying this request's span context.
pub async fn page(State(state): State<AppState>) -> impl IntoResponse {
    let traceparent = telemetry::propagation::traceparent(&tracing::Span::current());
    state.storefront.page(traceparent.as_deref())
}
