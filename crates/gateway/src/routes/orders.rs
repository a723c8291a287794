use axum::{Json, extract::State};
use platform::Path;

use crate::{AppState, clients::Order, error::ApiError};

/// `GET /orders/{order_id}`
pub async fn get(
    State(state): State<AppState>,
    Path(order_id): Path<String>,
) -> Result<Json<Order>, ApiError> {
    Ok(Json(state.orders.get(&order_id).await?))
}
