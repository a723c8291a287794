use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};
use platform::{Problem, client::CallError};

use crate::domain::{OrderError, OrderId};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    InvalidOrder(#[from] OrderError),
    #[error("unknown sku {0}")]
    UnknownSku(String),
    #[error("not enough stock of {0}")]
    NotEnoughStock(String),
    #[error("no order {0:?}")]
    UnknownOrder(String),
    /// The charge failed; the order is kept as `payment_failed`. The
    /// payments service's problem is relayed with the order id added.
    #[error("payment failed for {order_id}")]
    PaymentFailed {
        order_id: OrderId,
        problem: Box<Problem>,
    },
    /// Payments could not be reached; nothing was charged.
    #[error("payments unreachable for {order_id}: {source}")]
    Payments {
        order_id: OrderId,
        source: CallError,
    },
    /// The charge was sent and its outcome is unknown; the order is kept as
    /// `payment_unknown` for the reconciler.
    #[error("payment outcome unknown for {order_id}: {source}")]
    PaymentUnknown {
        order_id: OrderId,
        source: CallError,
    },
    /// The Idempotency-Key came with another request before.
    #[error("idempotency key reused with another request")]
    IdempotencyKeyReused,
    /// The first request with this key is still running.
    #[error("a request with this idempotency key is still in progress")]
    IdempotencyKeyInProgress,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.into_problem().into_response()
    }
}

impl ApiError {
    /// The problem the caller is told; logs what only operators should see.
    pub fn into_problem(self) -> Problem {
        match self {
            Self::InvalidOrder(error) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-order",
                "Invalid order",
                error.to_string(),
            ),
            Self::UnknownSku(sku) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown-sku",
                "Unknown product",
                format!("There is no product {sku:?}."),
            )
            .with("sku", sku),
            Self::NotEnoughStock(sku) => Problem::new(
                StatusCode::CONFLICT,
                "out-of-stock",
                "Not enough stock",
                format!("There is not enough stock of {sku:?}."),
            )
            .with("sku", sku),
            Self::UnknownOrder(id) => Problem::new(
                StatusCode::NOT_FOUND,
                "unknown-order",
                "Unknown order",
                format!("There is no order {id:?}."),
            ),
            Self::PaymentFailed { order_id, problem } => {
                problem.with("order_id", order_id.as_str())
            }
            Self::Payments { order_id, source } => payments_unavailable(&order_id, &source),
            Self::PaymentUnknown { order_id, source } => payment_unknown(&order_id, &source),
            Self::IdempotencyKeyReused => Problem::new(
                StatusCode::CONFLICT,
                "idempotency-key-reused",
                "Idempotency key reused",
                "This Idempotency-Key was sent before with a different request; nothing was changed.",
            ),
            Self::IdempotencyKeyInProgress => Problem::new(
                StatusCode::CONFLICT,
                "idempotency-key-in-progress",
                "Request in progress",
                "The first request with this Idempotency-Key is still running; try again shortly.",
            ),
            Self::Unexpected(error) => platform::problem::unexpected(&error),
        }
    }
}

/// payments could not be asked: nothing was charged, the order is failed.
fn payments_unavailable(order_id: &OrderId, source: &CallError) -> Problem {
    tracing::warn!(exception.message = %source, "payments call failed");
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "dependency-unavailable",
        "Dependency unavailable",
        "Payments are unavailable; the order was not charged.",
    )
    .with("order_id", order_id.as_str())
}

/// The charge went out and its answer did not come back: the caller gets
/// the order to follow, which the reconciler settles.
fn payment_unknown(order_id: &OrderId, source: &CallError) -> Problem {
    tracing::warn!(exception.message = %source, "payment outcome unknown");
    let (status, kind, title) = if source.is_timeout() {
        (
            StatusCode::GATEWAY_TIMEOUT,
            "dependency-timeout",
            "Dependency timed out",
        )
    } else {
        (
            StatusCode::BAD_GATEWAY,
            "dependency-failed",
            "Dependency failed",
        )
    };
    Problem::new(
        status,
        kind,
        title,
        "The payment's outcome is not known yet; the order will be confirmed or \
         released once it is, and the card is never charged twice.",
    )
    .with("order_id", order_id.as_str())
    .with("order_status", "payment_unknown")
}
