use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};
use platform::Problem;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("no customer {0:?}")]
    UnknownCustomer(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::UnknownCustomer(id) => Problem::new(
                StatusCode::NOT_FOUND,
                "unknown-customer",
                "Unknown customer",
                format!("There is no customer {id:?}."),
            )
            .into_response(),
            Self::Unexpected(error) => platform::problem::unexpected(&error).into_response(),
        }
    }
}
