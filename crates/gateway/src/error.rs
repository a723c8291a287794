use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};
use platform::{Problem, client::CallError};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid checkout: {}", .0.join("; "))]
    InvalidCheckout(Vec<String>),
    #[error("no order {0:?}")]
    UnknownOrder(String),
    #[error(transparent)]
    Call(#[from] CallError),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = match self {
            Self::InvalidCheckout(problems) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-checkout",
                "Invalid checkout",
                problems.join("; "),
            )
            .with("errors", problems),
            Self::UnknownOrder(id) => Problem::new(
                StatusCode::NOT_FOUND,
                "unknown-order",
                "Unknown order",
                format!("There is no order {id:?}."),
            ),
            Self::Call(error) => call_problem(error),
        };
        problem.into_response()
    }
}

/// What the caller is told when a dependency failed.
fn call_problem(error: CallError) -> Problem {
    match error {
        CallError::Unavailable { service } => {
            tracing::warn!(service.peer.name = service, "dependency unavailable");
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "dependency-unavailable",
                "Dependency unavailable",
                format!("The {service} service is unavailable. Try again later."),
            )
        }
        CallError::Timeout { service } => {
            tracing::warn!(service.peer.name = service, "dependency timed out");
            Problem::new(
                StatusCode::GATEWAY_TIMEOUT,
                "dependency-timeout",
                "Dependency timed out",
                format!("The {service} service did not answer in time."),
            )
        }
        // The services' own answers (unknown customer, out of stock, card
        // declined, unavailable payments) are the caller's answers too.
        CallError::Problem { problem, .. } if problem.status != 500 => *problem,
        CallError::Problem { service, problem } => {
            tracing::error!(
                service.peer.name = service,
                exception.message = problem.detail,
                "dependency failed"
            );
            Problem::new(
                StatusCode::BAD_GATEWAY,
                "dependency-failed",
                "Dependency failed",
                format!("The {service} service failed. Quote the trace_id when reporting it."),
            )
        }
        CallError::Unexpected { service, source } => {
            tracing::error!(
                service.peer.name = service,
                exception.message = format!("{source:#}"),
                "dependency call failed"
            );
            Problem::new(
                StatusCode::BAD_GATEWAY,
                "dependency-failed",
                "Dependency failed",
                format!("The answer of the {service} service could not be read."),
            )
        }
    }
}
