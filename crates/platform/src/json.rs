//! A JSON extractor whose rejections are problems, with the statuses of the
//! contract: 400 for a body that is not JSON (or not declared as JSON), 413
//! past the body limit, 422 for JSON of the wrong shape, and 408 for a body
//! that does not arrive in time.
//!
//! Unknown members are ignored, in every service: no request type says
//! `#[serde(deny_unknown_fields)]`. It is the forward-compatible choice: a
//! caller may send a member a later version of the contract adds, and an
//! older service still answers. An unknown member is skipped unread:
//! `serde_json` does not look inside what it skips, so even bytes that are
//! not UTF-8 in an unknown member's strings pass (everything a service
//! reads is checked).
//!
//! A number literal past what a double holds (`1e400`) is refused by
//! `serde_json` as unreadable, so it is 400; one that reads but does not fit
//! its member (`2^64` for an `i64`) is the wrong shape, 422.

use std::time::Duration;

use axum::{
    extract::{FromRequest, Request, rejection::JsonRejection},
    http::StatusCode,
};
use serde::de::DeserializeOwned;

use crate::Problem;

/// How long a request body may take to arrive, once its head has. Bodies
/// are at most 64 KiB, which any client sends in well under a second; a
/// client that stalls or trickles its body would otherwise hold a handler,
/// and whatever it holds, for as long as it likes. Within a shorter request
/// deadline, the body gets what the deadline leaves (less a margin), so a
/// slow body is the client's 408 rather than the service's 504.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// `axum::Json`, answering bad bodies with problem+json.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Problem> {
        let read = axum::Json::<T>::from_request(request, state);
        let limit = crate::deadline::budget(BODY_READ_TIMEOUT);
        match tokio::time::timeout(limit, read).await {
            Ok(Ok(axum::Json(value))) => Ok(Self(value)),
            Ok(Err(rejection)) => Err(rejection.into()),
            Err(_elapsed) => Err(Problem::new(
                StatusCode::REQUEST_TIMEOUT,
                "body-timeout",
                "Body too slow",
                format!(
                    "The request body did not arrive within {} ms.",
                    limit.as_millis()
                ),
            )),
        }
    }
}

impl From<JsonRejection> for Problem {
    fn from(rejection: JsonRejection) -> Self {
        let detail = without_values(&rejection.body_text());
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

/// serde's messages quote the value they refused (``invalid type: integer
/// `4242…`, expected a string``), and a problem's detail is logged: a card
/// number or CVC sent where it does not belong would reach the logs, which
/// must never hold one. Keeps the path, the kind of value and what was
/// expected; drops the value.
fn without_values(detail: &str) -> String {
    let found = ["invalid type: ", "invalid value: "]
        .iter()
        .find_map(|marker| Some(detail.find(marker)? + marker.len()));
    let Some(start) = found else {
        return detail.to_owned();
    };
    // The last one: the value itself may hold the words.
    let Some(end) = detail.rfind(", expected ").filter(|&end| end >= start) else {
        return format!("{}a value", &detail[..start]);
    };
    let kind = detail[start..end]
        .split(['`', '"', '\''])
        .next()
        .unwrap_or_default()
        .trim_end();
    format!("{}{kind}{}", &detail[..start], &detail[end..])
}

#[cfg(test)]
mod tests {
    use super::without_values;

    #[test]
    fn details_keep_the_path_and_the_kind_but_not_the_value() {
        let cases = [
            (
                "card.number: invalid type: integer `4242424242424242`, expected a string at line 1 column 80",
                "card.number: invalid type: integer, expected a string at line 1 column 80",
            ),
            (
                "card.exp_month: invalid type: string \"4242, expected 4242\", expected u8 at line 1 column 9",
                "card.exp_month: invalid type: string, expected u8 at line 1 column 9",
            ),
            (
                "card.exp_month: invalid value: integer `300`, expected u8 at line 1 column 9",
                "card.exp_month: invalid value: integer, expected u8 at line 1 column 9",
            ),
            (
                "card: missing field `cvc` at line 1 column 70",
                "card: missing field `cvc` at line 1 column 70",
            ),
        ];
        for (detail, expected) in cases {
            assert_eq!(without_values(detail), expected);
        }
    }
}
