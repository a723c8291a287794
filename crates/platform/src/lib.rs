//! What every service shares that is not telemetry: RFC 9457 problem
//! responses, JSON and path extractors that answer with them, the grammar
//! of ids and of `Idempotency-Key`, liveness and readiness, and serving
//! with graceful shutdown.
//!
//! # Layout
//!
//! - [`nats`]: the NATS connection and the `ORDERS` stream.
//! - [`problem`]: [`Problem`], the one error body of the suite.
//! - [`json`]: [`Json`], axum's extractor with problem rejections and a
//!   deadline for the body.
//! - [`path`]: [`Path`], axum's extractor with problem rejections.
//! - [`id`]: the suite's public ids: made in one place, and their shape
//!   checked before an id reaches a query or a URL.
//! - [`idempotency_key`]: [`IdempotencyKey`], the `Idempotency-Key` header.
//! - [`client`]: [`Call`](client::Call): calls to other services within
//!   the deadline, retried when safe, with one outcome type.
//! - [`backoff`]: doubling waits for loops that retry as long as the
//!   service runs.
//! - [`deadline`]: a request's deadline, enforced and passed downstream.
//! - [`faults`]: failures on demand through `fault.<service>` baggage.
//! - [`database`]: a service's own database, created if missing, connected
//!   and migrated.
//! - [`health`]: `/healthz` and the probe `/readyz` handlers use.
//! - [`server`]: [`service_router`] (the API traced, the probes not),
//!   [`Server`] (bind, tell the port, run until shut down), [`serve`] and
//!   [`run`], the whole life of a service binary.

pub mod backoff;
pub mod client;
pub mod database;
pub mod deadline;
pub mod faults;
pub mod health;
pub mod id;
pub mod idempotency_key;
pub mod json;
pub mod nats;
pub mod path;
pub mod problem;
pub mod server;

pub use idempotency_key::IdempotencyKey;
pub use json::Json;
pub use path::Path;
pub use problem::Problem;
pub use server::{Server, ServiceOptions, Stopping, run, serve, service_router};

/// Reads a service's `Config` from the environment (and flags).
///
/// A bad value ends the process with one line naming the variable, as the
/// contract wants; `--help` prints every variable with its default.
pub fn config<C: clap::Parser>() -> C {
    C::try_parse().unwrap_or_else(|error| {
        use clap::error::ErrorKind;
        if matches!(
            error.kind(),
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
        ) {
            error.exit();
        }
        let rendered = error.render().to_string();
        eprintln!(
            "{}",
            rendered
                .lines()
                .next()
                .unwrap_or("error: invalid configuration")
        );
        std::process::exit(2);
    })
}
