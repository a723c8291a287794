//! Everything OpenTelemetry, shared by every service of the suite.
//!
//! A service uses it in five lines and never names an `opentelemetry` type:
//!
//! ```ignore
//! let _telemetry = telemetry::init("orders")?;                     // OTEL_* → providers, subscriber
//! let app = router.layer(axum::middleware::from_fn(telemetry::http_server::trace_requests));
//! let payments = telemetry::http_client::client(Duration::from_secs(5)); // CLIENT spans + traceparent
//! let db = telemetry::db::Database::connect(&database_url).await?;  // CLIENT span per statement
//! FIND_USER.query_as::<UserRow>().bind(id).fetch_optional(&db).await?;
//! ```
//!
//! # Layout
//!
//! - [`config`]: the standard `OTEL_*` variables, parsed once; errors name
//!   the variable.
//! - [`init`](mod@init): `init()` → [`TelemetryGuard`]: propagators, tracer and
//!   logger providers, the `tracing` subscriber; the guard flushes on drop.
//! - [`http_server`]: the axum middleware that makes SERVER spans and
//!   answers with `traceresponse`.
//! - [`http_client`]: the traced reqwest client: CLIENT spans, context
//!   injection.
//! - [`db`]: the traced sqlx query path: a CLIENT span per statement.
//! - [`propagation`]: the caller's W3C headers, checked against the
//!   grammar before the SDK reads them.
//! - [`messaging`]: W3C context in NATS headers, and the `create`, `send`
//!   and `process` spans of the messaging conventions.
//! - [`logs`]: JSON log lines carrying `trace_id` and `span_id`.

pub mod config;
#[cfg(feature = "sqlx")]
pub mod db;
#[cfg(feature = "reqwest")]
pub mod http_client;
#[cfg(feature = "axum")]
pub mod http_server;
pub mod init;
mod log_records;
pub mod logs;
#[cfg(feature = "nats")]
pub mod messaging;
pub mod metrics;
pub mod propagation;
mod span_events;

use opentelemetry::{KeyValue, trace::TraceContextExt};
use opentelemetry_semantic_conventions::attribute as semconv;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

pub use init::{InitError, TelemetryGuard, init, init_with};

/// The trace id of the current span, as 32 hex digits, for error responses
/// and anything else a user may quote back to find their trace.
pub fn current_trace_id() -> Option<String> {
    let context = Span::current().context();
    let span_context = context.span().span_context().clone();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

/// Adds an `exception` event to `span` without touching its status or
/// `error.type`: for server spans, whose status the response decides.
pub fn add_exception_event(span: &Span, exception_type: &'static str, message: &str) {
    span.add_event(
        "exception",
        vec![
            KeyValue::new(semconv::EXCEPTION_TYPE, exception_type),
            KeyValue::new(semconv::EXCEPTION_MESSAGE, message.to_owned()),
        ],
    );
}

/// Marks `span` as failed the way the conventions describe: status ERROR,
/// `error.type`, and an `exception` event with the type and message.
pub fn record_exception(span: &Span, error_type: &'static str, message: &str) {
    span.set_attribute(semconv::ERROR_TYPE, error_type);
    add_exception_event(span, error_type, message);
    span.set_status(opentelemetry::trace::Status::error(message.to_owned()));
}

/// The method as the conventions want it: the known methods as they are,
/// anything else as `_OTHER`, so a client cannot blow up cardinality.
#[cfg(any(feature = "axum", feature = "reqwest"))]
pub(crate) fn http_method_name(method: &http::Method) -> &'static str {
    match *method {
        http::Method::GET => "GET",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::DELETE => "DELETE",
        http::Method::PATCH => "PATCH",
        http::Method::HEAD => "HEAD",
        http::Method::OPTIONS => "OPTIONS",
        http::Method::TRACE => "TRACE",
        http::Method::CONNECT => "CONNECT",
        _ => "_OTHER",
    }
}
