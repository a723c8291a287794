//! A JSON extractor whose rejections are problems, with the statuses of the
//! contract: 400 for a body that is not JSON (or not declared as JSON), 413
//! past the body limit, 422 for JSON of the wrong shape.

use axum::{
    extract::{FromRequest, rejection::JsonRejection},
    http::StatusCode,
};

use crate::Problem;

/// `axum::Json`, answering bad bodies with problem+json.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(Problem))]
pub struct Json<T>(pub T);

impl From<JsonRejection> for Problem {
    fn from(rejection: JsonRejection) -> Self {
        let detail = rejection.body_text();
        match rejection {
            JsonRejection::JsonDataError(_) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-request",
                "Invalid request",
                detail,
            ),
            JsonRejection::BytesRejection(_)
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                Problem::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body-too-large",
                    "Body too large",
                    detail,
                )
            }
            _ => Problem::new(
                StatusCode::BAD_REQUEST,
                "malformed-request",
                "Malformed request",
                detail,
            ),
        }
    }
}
