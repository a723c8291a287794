use axum::{Json, extract::State};
use platform::Path;

use crate::{AppState, clients::Order, error::ApiError};

/// `GET /orders/{order_id}`
pub async fn get(
    State(state): State<AppState>,
    Path(order_id): Path<String>,
) -> Result<Json<Order>, ApiError> {
    // What cannot be an id names no order: answered here, so `..` or
    // kilobytes of text never become the path of a call to orders.
    if !platform::id::is_well_formed(&order_id, "ord") {
        return Err(ApiError::UnknownOrder(order_id));
    }
    Ok(Json(state.orders.get(&order_id).await?))
}
