use anyhow::Context;
use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use platform::{IdempotencyKey, Path};
use serde::{Deserialize, Serialize};

use crate::{
    AppState,
    clients::CardDetails,
    db,
    domain::{NewOrder, OrderId},
    error::ApiError,
    idempotency::{self, Begin},
    ordering,
};

/// No `Debug`: `card` holds a full card number.
#[derive(Deserialize)]
pub struct CreateOrderRequest {
    customer_id: String,
    items: Vec<ItemRequest>,
    card: CardDetails,
}

#[derive(Deserialize)]
struct ItemRequest {
    sku: String,
    quantity: i64,
}

#[derive(Serialize)]
pub struct OrderResponse {
    order_id: String,
    customer_id: String,
    status: String,
    items: Vec<ItemResponse>,
    total_cents: i64,
    currency: String,
    payment_id: Option<String>,
}

#[derive(Serialize)]
struct ItemResponse {
    sku: String,
    quantity: i32,
    unit_price_cents: i64,
}

impl TryFrom<&CreateOrderRequest> for NewOrder {
    type Error = ApiError;

    fn try_from(request: &CreateOrderRequest) -> Result<Self, ApiError> {
        let lines: Vec<(String, i64)> = request
            .items
            .iter()
            .map(|item| (item.sku.clone(), item.quantity))
            .collect();
        Ok(NewOrder::parse(&request.customer_id, &lines)?)
    }
}

/// `POST /orders`: place an order and pay for it, once per
/// `Idempotency-Key` when the caller sends one.
pub async fn create(
    State(state): State<AppState>,
    key: Option<IdempotencyKey>,
    platform::Json(request): platform::Json<CreateOrderRequest>,
) -> Response {
    let Some(key) = key else {
        return place(&state, &request)
            .await
            .map(|(status, body)| (status, Json(body)))
            .into_response();
    };
    let key = key.as_str();
    match idempotency::begin(&state.db, key, &request.fingerprint()).await {
        Ok(Begin::Run) => idempotency::finish(&state.db, key, place(&state, &request).await).await,
        Ok(Begin::Replay(response)) => response,
        Err(error) => error.into_response(),
    }
}

async fn place(
    state: &AppState,
    request: &CreateOrderRequest,
) -> Result<(StatusCode, OrderResponse), ApiError> {
    let order = NewOrder::try_from(request)?;
    let placed = ordering::create_order(state, &order, &request.card).await?;
    let items = order
        .lines
        .iter()
        .zip(placed.unit_prices)
        .map(|(line, unit_price_cents)| ItemResponse {
            sku: line.sku.as_str().to_owned(),
            quantity: line.quantity.get(),
            unit_price_cents,
        })
        .collect();
    Ok((
        StatusCode::CREATED,
        OrderResponse {
            order_id: placed.id.as_str().to_owned(),
            customer_id: order.customer_id,
            status: "confirmed".to_owned(),
            items,
            total_cents: placed.total_cents,
            currency: placed.currency,
            payment_id: Some(placed.payment_id),
        },
    ))
}

impl CreateOrderRequest {
    /// What makes two requests the same request, for `Idempotency-Key`.
    fn fingerprint(&self) -> String {
        let items: Vec<(&str, i64)> = self
            .items
            .iter()
            .map(|item| (item.sku.as_str(), item.quantity))
            .collect();
        idempotency::fingerprint(&serde_json::json!({
            "customer_id": self.customer_id,
            "items": items,
            "card": self.card.fingerprint(),
        }))
    }
}

/// `GET /orders/{order_id}`
pub async fn get(
    State(state): State<AppState>,
    Path(order_id): Path<String>,
) -> Result<Json<OrderResponse>, ApiError> {
    let id = OrderId::parse(&order_id).ok_or_else(|| ApiError::UnknownOrder(order_id.clone()))?;
    let order = db::orders::find(&state.db, &id)
        .await
        .context("looking up the order")?
        .ok_or(ApiError::UnknownOrder(order_id))?;
    let items = db::orders::items(&state.db, &id)
        .await
        .context("reading the order's items")?
        .into_iter()
        .map(|item| ItemResponse {
            sku: item.sku,
            quantity: item.quantity,
            unit_price_cents: item.unit_price_cents,
        })
        .collect();
    Ok(Json(OrderResponse {
        order_id: order.id,
        customer_id: order.customer_id,
        status: order.status,
        items,
        total_cents: order.total_cents,
        currency: order.currency,
        payment_id: order.payment_id,
    }))
}
