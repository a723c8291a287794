use axum::{Json, extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};

use crate::{
    AppState,
    charging::{self, ChargeOutcome},
    domain::{Card, Charge},
    error::ApiError,
};

/// No `Debug`: this holds a full card number and CVC.
#[derive(Deserialize)]
pub struct PaymentRequest {
    order_id: String,
    amount_cents: i64,
    currency: String,
    card: CardRequest,
}

#[derive(Deserialize)]
struct CardRequest {
    number: String,
    exp_month: u8,
    exp_year: u16,
    cvc: String,
}

#[derive(Serialize)]
pub struct PaymentResponse {
    payment_id: String,
    status: &'static str,
}

impl TryFrom<PaymentRequest> for Charge {
    type Error = ApiError;

    fn try_from(request: PaymentRequest) -> Result<Self, ApiError> {
        let invalid = |error: &dyn std::error::Error| ApiError::InvalidCharge(error.to_string());
        let card = &request.card;
        let card = Card::parse(&card.number, card.exp_month, card.exp_year, &card.cvc)
            .map_err(|e| invalid(&e))?;
        Charge::parse(
            &request.order_id,
            request.amount_cents,
            &request.currency,
            card,
        )
        .map_err(|e| invalid(&e))
    }
}

/// `POST /payments`: charge a card for an order.
pub async fn create(
    State(state): State<AppState>,
    platform::Json(request): platform::Json<PaymentRequest>,
) -> Result<(StatusCode, Json<PaymentResponse>), ApiError> {
    let charge = Charge::try_from(request)?;
    match charging::charge_card(&state, &charge).await? {
        ChargeOutcome::Approved { payment_id } => Ok((
            StatusCode::CREATED,
            Json(PaymentResponse {
                payment_id: payment_id.as_str().to_owned(),
                status: "approved",
            }),
        )),
        ChargeOutcome::Declined {
            payment_id,
            decline_code,
        } => Err(ApiError::Declined {
            payment_id,
            decline_code,
        }),
    }
}
