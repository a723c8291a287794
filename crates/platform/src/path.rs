//! A path extractor whose rejections are problems.
//!
//! A path id that is not an id names nothing, so it is 404, whatever is
//! wrong with it: the services answer an id of the wrong shape with their
//! own 404 (`unknown-order`, `unknown-customer`), and a segment that does
//! not even decode to text (`/orders/%FF`), which axum refuses before any
//! handler runs, gets the same status as `not-found`. A 400 would tell a
//! caller that ids have a grammar worth probing; a 404 says only that
//! nothing is there.

use axum::{
    extract::{FromRequestParts, rejection::PathRejection},
    http::StatusCode,
};

use crate::Problem;

/// `axum::extract::Path`, answering undecodable segments with a 404 problem.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Problem))]
pub struct Path<T>(pub T);

impl From<PathRejection> for Problem {
    fn from(rejection: PathRejection) -> Self {
        if rejection.status() == StatusCode::INTERNAL_SERVER_ERROR {
            // The route and its `Path` type disagree: our bug, not the caller's.
            tracing::error!(exception.message = %rejection.body_text(), "path parameters do not fit their type");
            return Problem::internal();
        }
        Problem::not_found()
    }
}
