use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};
use platform::Problem;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid notification: {0}")]
    Invalid(&'static str),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::Invalid(detail) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-notification",
                "Invalid notification",
                detail,
            )
            .into_response(),
            Self::Unexpected(error) => platform::problem::unexpected(&error).into_response(),
        }
    }
}
