use axum::{Json, extract::State, http::StatusCode};
use platform::IdempotencyKey;

use crate::{
    AppState,
    clients::Order,
    domain::{Checkout, CheckoutRequest, YearMonth},
    error::ApiError,
};

/// `POST /checkout`: look the customer up, place and pay for the order,
/// then ask for the confirmation message.
pub async fn checkout(
    State(state): State<AppState>,
    key: Option<IdempotencyKey>,
    platform::Json(request): platform::Json<CheckoutRequest>,
) -> Result<(StatusCode, Json<Order>), ApiError> {
    let answer = place(&state, key, request).await;
    state.metrics.record(&answer);
    answer
}

async fn place(
    state: &AppState,
    key: Option<IdempotencyKey>,
    request: CheckoutRequest,
) -> Result<(StatusCode, Json<Order>), ApiError> {
    let checkout = Checkout::parse(request, YearMonth::now()).map_err(ApiError::InvalidCheckout)?;

    let customer = state.users.find(&checkout.customer_id).await?;
    let order = state.orders.place(&checkout, key.as_ref()).await?;
    // The order is placed and paid: a failed notification is logged and
    // visible in the trace, and does not fail the checkout.
    if let Err(error) = state
        .notifications
        .order_confirmed(&order.order_id, &customer.customer_id)
        .await
    {
        tracing::warn!(exception.message = %error, order.id = order.order_id.as_str(), "order confirmation not queued");
    }
    tracing::info!(
        name: "checkout.completed",
        { order.id = order.order_id.as_str(), order.total_cents = order.total_cents },
        "checkout completed"
    );
    Ok((StatusCode::CREATED, Json(order)))
}
