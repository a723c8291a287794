//! RFC 9457 problem details, with the trace id of the request.

use axum::{
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Where the problem types are documented. `.example` is reserved: the
/// URIs identify, they are not meant to be fetched.
const TYPE_BASE: &str = "https://tracing-suite.example/problems/";

/// An error response: `type`, `title`, `status`, `detail`, `trace_id`, and
/// any extension members (`order_id` of a declined checkout, say).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    #[serde(flatten)]
    pub extensions: Map<String, Value>,
}

impl Problem {
    /// `kind` is the last segment of the type URI (`card-declined`), `title`
    /// the same for every problem of that kind, `detail` about this one.
    pub fn new(status: StatusCode, kind: &str, title: &str, detail: impl Into<String>) -> Self {
        Self {
            type_uri: format!("{TYPE_BASE}{kind}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            trace_id: None,
            extensions: Map::new(),
        }
    }

    /// Adds an extension member.
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extensions.insert(key.to_owned(), value.into());
        self
    }

    /// The last segment of the type URI: `card-declined`.
    pub fn kind(&self) -> &str {
        self.type_uri.rsplit('/').next().unwrap_or_default()
    }

    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// A 404 for a path that names nothing.
    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            "There is nothing at this path.",
        )
    }

    /// A 500 that says nothing of the cause: the cause goes to the log and
    /// the trace, never to the client.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "The request failed on our side. Quote the trace_id when reporting it.",
        )
    }
}

/// The problem for a failure a handler did not expect, logged: 503 when
/// the cause is the service's database being unreachable (the caller may
/// try again later; a connection cut during its TLS handshake is a TLS
/// error), else a 500 that says nothing of the cause.
pub fn unexpected(error: &anyhow::Error) -> Problem {
    let database_unreachable = error.chain().any(|cause| {
        cause.downcast_ref::<sqlx::Error>().is_some_and(|error| {
            matches!(
                error,
                sqlx::Error::Io(_)
                    | sqlx::Error::Tls(_)
                    | sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
            )
        })
    });
    if database_unreachable {
        tracing::warn!(
            exception.message = format!("{error:#}"),
            "database unavailable"
        );
        return Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database-unavailable",
            "Database unavailable",
            "The service cannot reach its database. Try again later.",
        );
    }
    tracing::error!(exception.message = format!("{error:#}"), "request failed");
    Problem::internal()
}

impl IntoResponse for Problem {
    fn into_response(mut self) -> Response {
        // Set here, inside the request's span, so it names this request's
        // trace even when the problem was relayed from another service.
        self.trace_id = telemetry::current_trace_id();
        let status = self.status_code();
        // A 4xx is the client's mistake, handled as designed: worth a line,
        // not an ERROR (which would also mark the span failed).
        if status.is_client_error() {
            tracing::info!(
                http.response.status_code = status.as_u16(),
                error.type = self.kind(),
                "request rejected: {}",
                self.detail
            );
        }
        let body = serde_json::to_vec(&self).unwrap_or_default();
        (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response()
    }
}

/// The fallback of every router: unknown paths get a problem too.
pub async fn not_found() -> Problem {
    Problem::not_found()
}

/// The fallback for a known path with a method it does not serve. axum
/// still adds the `Allow` header.
pub async fn method_not_allowed() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        "This path does not serve this method; the Allow header lists those it does.",
    )
}
