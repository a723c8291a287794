//! End-to-end tests of the suite as users run it: the real service
//! binaries as separate processes, real Postgres, and real OTLP/HTTP
//! exporters, pointed at an in-memory receiver the test reads.
//!
//! ```ignore
//! let suite = e2e::Suite::start(e2e::SuiteOptions::default()).await?;
//! let response = e2e::http_client()
//!     .post(format!("{}/checkout", suite.url(e2e::Service::Gateway)))
//!     .json(&body)
//!     .send()
//!     .await?;
//! let trace_id = /* from the `traceresponse` header */;
//! let spans = suite.receiver().wait_for_trace(&trace_id, |spans| spans.len() >= 14, timeout).await;
//! let tree = e2e::TraceTree::new(&spans);
//! assert_eq!(tree.roots().len(), 1, "{}", tree.render());
//! ```
//!
//! Needs Postgres on `127.0.0.1:5432` (user `postgres`, password
//! `postgres` or trust) and `psql` on the `PATH` to drop the test databases.
//!
//! # Layout
//!
//! - [`otlp`]: [`OtlpReceiver`], the OTLP/HTTP endpoint the services export
//!   to; it keeps what it receives, flattened and raw.
//! - [`model`]: what it keeps: [`Span`], [`LogRecord`], [`AttributeValue`].
//! - [`trace_tree`]: [`TraceTree`], a trace's spans as a tree, for shape
//!   assertions and for printing a trace when one fails.
//! - [`suite`]: [`Suite`], every service built, started with a fresh
//!   database, and stopped again; [`SuiteOptions`] for extra environment.
//! - [`process_stats`]: [`ProcessStats`], a service's memory and CPU from
//!   `/proc`.
//! - [`cost`]: what tracing costs, measured under the load generator's
//!   traffic in four telemetry configurations.
//! - [`instructions`]: instructions per checkout, per service, counted
//!   under callgrind.
//! - [`browser`]: [`Browser`], headless Chromium driven through
//!   `chromedriver`, for the storefront as a user sees it.
//! - [`broken_collector`]: [`BrokenCollector`], a collector that refuses,
//!   answers 503, or hangs.
//! - [`nats`]: [`NatsServer`], each suite's own NATS with JetStream.
//! - [`tcp_proxy`]: [`TcpProxy`], to cut a service off its database and
//!   restore it.
//! - [`http_client`]: the plain client a test calls the services with.

pub mod broken_collector;
pub mod browser;
pub mod cost;
pub mod instructions;
pub mod metrics;
pub mod model;
pub mod nats;
pub mod otlp;
pub mod process_stats;
pub mod suite;
pub mod tcp_proxy;
pub mod tls;
pub mod trace_tree;

pub use broken_collector::{BrokenCollector, Failure};
pub use browser::Browser;
pub use metrics::{MetricKind, MetricPoint, Temporality};
pub use model::{AttributeValue, Link, LogRecord, Span, SpanEvent, SpanKind, Status};
pub use nats::NatsServer;
pub use otlp::OtlpReceiver;
pub use process_stats::ProcessStats;
pub use suite::{Service, Suite, SuiteOptions, binary, consumer, example, executable};
pub use tcp_proxy::TcpProxy;
pub use trace_tree::TraceTree;

/// A plain reqwest client, for the test's own requests.
///
/// The workspace allows only the traced client, because inside a service an
/// untraced one breaks the trace. A test is the opposite case: it stands in
/// for an outside caller, whose requests carry no trace context unless the
/// test sets a `traceparent` itself.
#[expect(
    clippy::disallowed_methods,
    reason = "the test is an untraced outside caller"
)]
pub fn http_client() -> reqwest::Client {
    // reqwest is built with rustls and no crypto provider of its own in
    // this workspace (the telemetry crate's `tls` feature brings ring):
    // make ring the process's default before building a client.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// [`http_client`] sending from another loopback address (`127.0.0.2`, say),
/// for a test that must look like a client of its own to a per-address
/// limit.
#[expect(
    clippy::disallowed_methods,
    reason = "the test is an untraced outside caller"
)]
pub fn http_client_from(address: std::net::IpAddr) -> anyhow::Result<reqwest::Client> {
    // reqwest is built with rustls and no crypto provider of its own in
    // this workspace (the telemetry crate's `tls` feature brings ring):
    // make ring the process's default before building a client.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Ok(reqwest::Client::builder().local_address(address).build()?)
}
