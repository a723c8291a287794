use axum::{Json, extract::State};
use serde::{Deserialize, Serialize};

use crate::{
    AppState,
    charging::{self, Settlement},
    error::ApiError,
};

#[derive(Deserialize)]
pub struct SettlementRequest {
    order_id: String,
}

#[derive(Serialize)]
pub struct SettlementResponse {
    order_id: String,
    /// `approved`, `declined`, `not_charged` or `unknown` (ask again later).
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    payment_id: Option<String>,
}

/// `POST /settlements`: what became of an order's payment, settling it
/// with the processor if nobody heard the answer. Safe to repeat.
pub async fn create(
    State(state): State<AppState>,
    platform::Json(request): platform::Json<SettlementRequest>,
) -> Result<Json<SettlementResponse>, ApiError> {
    let (status, payment_id) = match charging::settle_order(&state, &request.order_id).await? {
        Settlement::Approved { payment_id } => ("approved", Some(payment_id)),
        Settlement::Declined { payment_id } => ("declined", Some(payment_id)),
        Settlement::NotCharged => ("not_charged", None),
        Settlement::Unknown => ("unknown", None),
    };
    crate::metrics::settlement(status);
    Ok(Json(SettlementResponse {
        order_id: request.order_id,
        status,
        payment_id,
    }))
}
