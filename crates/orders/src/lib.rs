//! `orders`: the catalogue, its stock, and the orders placed against it.
//!
//! Answers `POST /orders` and `GET /orders/{order_id}` for the gateway. The
//! business span `orders.create_order` reserves stock and records the order
//! in one transaction, has `payments` charge the card, then confirms the
//! order (and records its `orders.confirmed` event in the same transaction),
//! or marks it `payment_failed` and gives the stock back. A charge whose
//! answer was lost leaves the order `payment_unknown`, with its stock, for
//! the reconciler to settle with payments.
//!
//! # Layout
//!
//! - `config`: [`Config`], from the environment.
//! - `routes`: thin handlers.
//! - `ordering`: placing an order, inside its business span.
//! - `idempotency`: `Idempotency-Key`, stored in Postgres.
//! - `events`: the `orders.confirmed` event, written to the outbox.
//! - `relay`: publishes the outbox to NATS `JetStream`.
//! - `reconciler`: settles orders whose payment outcome was lost.
//! - `metrics`: idempotent replays and the outbox's unsent events.
//! - `domain`: parsed types and rules; no axum, no sqlx.
//! - `clients`: the payments service.
//! - `db`: every SQL statement of the service.
//! - `error`: [`ApiError`](error::ApiError), rendered as problem+json.

mod clients;
mod config;
mod db;
mod domain;
mod error;
mod events;
mod idempotency;
mod metrics;
mod ordering;
mod reconciler;
mod relay;
mod routes;

use axum::{
    Router,
    routing::{get, post},
};
use std::time::Duration;

use telemetry::db::Database;

pub use config::Config;

use crate::clients::Payments;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Clone)]
struct AppState {
    db: Database,
    payments: Payments,
    relay: relay::Relay,
}

/// Connects to the database, migrates it, and binds the listener.
pub async fn build(config: Config) -> anyhow::Result<platform::Server> {
    let db = platform::database::open("orders", &config.database_url, &MIGRATOR).await?;
    let state = AppState {
        relay: relay::Relay::start(db.clone(), &config.nats_url).await?,
        db,
        payments: Payments::new(config.payments_url),
    };
    metrics::watch_outbox(state.db.clone());
    reconciler::start(
        state.clone(),
        Duration::from_millis(config.reconcile_interval_ms),
    );
    Ok(platform::Server::bind(config.listen_addr, router(state, config.faults)).await?)
}

fn router(state: AppState, faults: platform::faults::Switch) -> Router {
    let api = Router::new()
        .route("/orders", post(routes::orders::create))
        .route("/orders/{order_id}", get(routes::orders::get));
    platform::service_router(
        platform::ServiceOptions {
            name: "orders",
            deadline: config::REQUEST_DEADLINE,
            faults,
        },
        api,
        get(routes::health::ready),
    )
    .with_state(state)
}
