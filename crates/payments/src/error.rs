use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};
use platform::{Problem, client::CallError};

use crate::domain::PaymentId;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid charge: {0}")]
    InvalidCharge(String),
    #[error("card declined ({decline_code})")]
    Declined {
        payment_id: PaymentId,
        decline_code: String,
    },
    #[error(transparent)]
    CardProcessor(CallError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = match self {
            Self::InvalidCharge(detail) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-charge",
                "Invalid charge",
                detail,
            ),
            Self::Declined {
                payment_id,
                decline_code,
            } => Problem::new(
                StatusCode::PAYMENT_REQUIRED,
                "card-declined",
                "Card declined",
                "The card processor declined the charge.",
            )
            .with("payment_id", payment_id.as_str())
            .with("decline_code", decline_code),
            Self::CardProcessor(error) => {
                tracing::warn!(exception.message = %error, "card processor call failed");
                match error {
                    CallError::Timeout { .. } => Problem::new(
                        StatusCode::GATEWAY_TIMEOUT,
                        "dependency-timeout",
                        "Dependency timed out",
                        "The card processor did not answer in time.",
                    ),
                    // Never sent: the caller knows nothing was charged.
                    CallError::Unavailable { .. } => Problem::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "dependency-unavailable",
                        "Dependency unavailable",
                        "The card processor is unavailable; nothing was charged.",
                    ),
                    // Sent, with no usable answer: the outcome is unknown.
                    CallError::Problem { .. } | CallError::Unexpected { .. } => Problem::new(
                        StatusCode::BAD_GATEWAY,
                        "dependency-failed",
                        "Dependency failed",
                        "The card processor failed; the charge will be settled later.",
                    ),
                }
            }
            Self::Unexpected(error) => platform::problem::unexpected(&error),
        };
        problem.into_response()
    }
}
