//! `users`: the customers of the shop.
//!
//! Answers `GET /users/{customer_id}` for the gateway's checkout, with the
//! purchase totals it keeps from the `orders.confirmed` events.
//!
//! # Layout
//!
//! - `config`: [`Config`], from the environment.
//! - `routes`: one resource a file; thin handlers.
//! - `consumer`: the `orders.confirmed` events, from NATS `JetStream`.
//! - `domain`: parsed types; no axum, no sqlx.
//! - `db`: every SQL statement of the service.
//! - `error`: [`ApiError`](error::ApiError), rendered as problem+json.

mod config;
mod consumer;
mod db;
mod domain;
mod error;
mod routes;

use axum::{Router, routing::get};
use telemetry::db::Database;

pub use config::Config;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// What every handler gets.
#[derive(Clone)]
struct AppState {
    db: Database,
}

/// Connects to the database, migrates it, and binds the listener.
pub async fn build(config: Config) -> anyhow::Result<platform::Server> {
    let db = platform::database::open("users", &config.database_url, &MIGRATOR).await?;
    consumer::start(db.clone(), &config.nats_url).await?;
    let router = router(AppState { db }, config.faults);
    Ok(platform::Server::bind(config.listen_addr, router).await?)
}

fn router(state: AppState, faults: platform::faults::Switch) -> Router {
    let api = Router::new().route("/users/{customer_id}", get(routes::users::get));
    platform::service_router(
        platform::ServiceOptions {
            name: "users",
            deadline: config::REQUEST_DEADLINE,
            faults,
        },
        api,
        get(routes::health::ready),
    )
    .with_state(state)
}
