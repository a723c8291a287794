//! `payments`: charges cards through the card processor and keeps a record
//! of every attempt.
//!
//! Answers `POST /payments` for `orders`. The business span
//! `payments.charge_card` wraps the attempt's record, the processor call and
//! the outcome's record; a decline marks it ERROR with an `exception` event.
//! `POST /settlements` tells `orders`' reconciler what became of a payment
//! whose answer was lost, asking the processor if need be.
//!
//! # Layout
//!
//! - `config`: [`Config`], from the environment.
//! - `routes`: thin handlers.
//! - `charging`: the charge and its settlement, inside their business spans.
//! - `domain`: [`Card`](domain::Card) and the charge, parsed; no axum, no sqlx.
//! - `clients`: the card processor.
//! - `db`: every SQL statement of the service.
//! - `error`: [`ApiError`](error::ApiError), rendered as problem+json.
//! - `metrics`: settlements by outcome.

mod charging;
mod clients;
mod config;
mod db;
mod domain;
mod error;
mod metrics;
mod routes;

use axum::{
    Router,
    routing::{get, post},
};
use telemetry::db::Database;

pub use config::Config;

use crate::clients::CardProcessor;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Clone)]
struct AppState {
    db: Database,
    card_processor: CardProcessor,
}

/// Connects to the database, migrates it, and binds the listener.
pub async fn build(config: Config) -> anyhow::Result<platform::Server> {
    let db = platform::database::open("payments", &config.database_url, &MIGRATOR).await?;
    let state = AppState {
        db,
        card_processor: CardProcessor::new(config.card_processor_url),
    };
    Ok(platform::Server::bind(config.listen_addr, router(state, config.faults)).await?)
}

fn router(state: AppState, faults: platform::faults::Switch) -> Router {
    let api = Router::new()
        .route("/payments", post(routes::payments::create))
        .route("/settlements", post(routes::settlements::create));
    platform::service_router(
        platform::ServiceOptions {
            name: "payments",
            deadline: config::REQUEST_DEADLINE,
            faults,
        },
        api,
        get(routes::health::ready),
    )
    .with_state(state)
}
