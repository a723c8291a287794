//! `notifications`: records the messages the shop owes its customers.
//!
//! Answers `POST /notifications` for the gateway once an order is
//! confirmed. Asking twice for the same order's confirmation records it once.
//!
//! # Layout
//!
//! - `config`: [`Config`], from the environment.
//! - `routes`: thin handlers.
//! - `db`: every SQL statement of the service.
//! - `error`: [`ApiError`](error::ApiError), rendered as problem+json.

mod config;
mod db;
mod error;
mod routes;

use axum::{
    Router,
    routing::{get, post},
};
use telemetry::db::Database;

pub use config::Config;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Clone)]
struct AppState {
    db: Database,
}

/// Connects to the database, migrates it, and binds the listener.
pub async fn build(config: Config) -> anyhow::Result<platform::Server> {
    let db = platform::database::open("notifications", &config.database_url, &MIGRATOR).await?;
    Ok(platform::Server::bind(config.listen_addr, router(AppState { db }, config.faults)).await?)
}

fn router(state: AppState, faults: platform::faults::Switch) -> Router {
    let api = Router::new().route("/notifications", post(routes::notifications::create));
    platform::service_router(
        platform::ServiceOptions {
            name: "notifications",
            deadline: config::REQUEST_DEADLINE,
            faults,
        },
        api,
        get(routes::health::ready),
    )
    .with_state(state)
}
