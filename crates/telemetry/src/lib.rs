//! Everything OpenTelemetry, shared by every service of the suite: traces,
//! metrics and logs from the standard `OTEL_*` variables, spans per the
//! semantic conventions for HTTP, Postgres and NATS, and a flush at the end.
//!
//! A service's whole life with it, and it never names an `opentelemetry`
//! type:
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use axum::{Router, middleware, routing::get};
//! use service_telemetry as telemetry;
//! use telemetry::db::{Database, Statement};
//!
//! /// A statement names its operation and table: its span's name.
//! const FIND_USER: Statement =
//!     Statement::new("SELECT", "users", "SELECT name FROM users WHERE id = $1");
//!
//! # async fn service() -> anyhow::Result<()> {
//! // 1. Providers, propagators and the subscriber, from OTEL_* and RUST_LOG.
//! let telemetry = telemetry::init("users", env!("CARGO_PKG_VERSION"))?;
//! // 2. A CLIENT span and a duration metric per statement.
//! let db = Database::connect("postgres://postgres:postgres@localhost/users").await?;
//! let user: Option<(String,)> =
//!     FIND_USER.query_as().bind("cus_1001".to_owned()).fetch_optional(&db).await?;
//! // 3. A CLIENT span per call, with `traceparent` and `baggage` sent on.
//! let client = telemetry::http_client::client(Duration::from_secs(5));
//! let _ = client.get("http://localhost:8082/orders/ord_1").send().await;
//! // 4. A SERVER span per request, named by its route.
//! let app: Router = Router::new()
//!     .route("/users/{id}", get(|| async { "..." }))
//!     .layer(middleware::from_fn(telemetry::http_server::trace_requests));
//! // ... serve `app` until the shutdown signal ...
//! // 5. Export what is still queued: traces and metrics, then logs.
//! telemetry.shutdown();
//! # Ok(())
//! # }
//! ```
//!
//! Each integration is a cargo feature (`axum`, `reqwest`, `sqlx`, `nats`,
//! `grpc`, `browser`), all on by default with `tls`; `examples/axum_service.rs` is the above as
//! a program, run by the end-to-end tests.
//!
//! TLS (`tls`) is rustls with ring and the platform's roots. reqwest is
//! then built without a crypto provider of its own: [`init()`] makes ring
//! the process's default, so build any plain `reqwest::Client` of yours
//! after it (one built before panics: reqwest's rule).
//!
//! `RUST_LOG` decides what is logged, never what is traced: spans at INFO
//! and above are always made and propagated. A service with layers of its
//! own, or a subscriber of its own, builds a [`Telemetry`] instead of
//! calling [`init()`].
//!
//! The crate re-exports what a service names besides it: [`tracing`],
//! [`tracing_subscriber`], and the OpenTelemetry crates at the one
//! version it is built on ([`opentelemetry`], [`opentelemetry_sdk`]), so a
//! second version cannot slip in.
//!
//! # Layout
//!
//! - [`config`]: the standard `OTEL_*` variables, parsed once; errors name
//!   the variable.
//! - [`init`](mod@init): `init()` → [`TelemetryGuard`]: propagators, tracer,
//!   meter and logger providers, the `tracing` subscriber; the guard
//!   flushes on drop. [`Telemetry`]: the same in steps.
//! - `layers`: what each layer of the subscriber is given.
//! - `export`: the exporters' own thread and HTTP client, with TLS
//!   (`tls`), and errors that name the endpoint.
//! - [`metrics`]: the conventions' instruments, recorded where the spans
//!   are made, and [`metrics::meter`] for a service's own.
//! - [`http_server`]: the axum middleware that makes SERVER spans and
//!   answers with `traceresponse`.
//! - [`http_client`]: the traced reqwest client: CLIENT spans, context
//!   injection.
//! - [`db`]: the traced sqlx query path: a CLIENT span per statement.
//! - [`propagation`]: the caller's W3C headers, checked against the
//!   grammar before the SDK reads them.
//! - [`browser`]: a same-origin route that takes spans from a web page,
//!   checks them and forwards them to the traces endpoint.
//! - [`messaging`]: W3C context in NATS headers, and the `create`, `send`
//!   and `process` spans of the messaging conventions.
//! - `logs`: JSON log lines carrying `trace_id` and `span_id`; what
//!   becomes an OTLP log record, and which log lines are span events
//!   (only named ones: the suite's registry, `semconv/`, defines them).

#![warn(missing_docs)]
// docs.rs labels each item with the feature it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "browser")]
#[cfg_attr(docsrs, doc(cfg(feature = "browser")))]
pub mod browser;
pub mod config;
#[cfg(feature = "sqlx")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlx")))]
pub mod db;
mod export;
#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub mod http_client;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod http_server;
pub mod init;
mod layers;
mod log_records;
mod logs;
#[cfg(feature = "nats")]
#[cfg_attr(docsrs, doc(cfg(feature = "nats")))]
pub mod messaging;
pub mod metrics;
pub mod otlp_encode;
mod otlp_traces;
pub mod propagation;
mod span_events;
#[cfg(feature = "tls")]
mod tls;

pub use opentelemetry;
pub use opentelemetry_sdk;
pub use tracing;
pub use tracing_subscriber;

use opentelemetry::{KeyValue, trace::TraceContextExt};
use opentelemetry_semantic_conventions::attribute as semconv;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

pub use init::{InitError, Telemetry, TelemetryGuard, init, init_with};

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
