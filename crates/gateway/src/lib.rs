//! `gateway`: the public API of the shop.
//!
//! `POST /checkout` validates the request, looks the customer up in
//! `users`, has `orders` place and pay for the order, and asks
//! `notifications` to confirm it to the customer. `GET /orders/{order_id}`
//! reads an order back. It owns no database: `clients/` is its `db/`.
//!
//! # Layout
//!
//! - `config`: [`Config`], from the environment.
//! - `routes`: thin handlers.
//! - `domain`: the checkout, parsed and validated; no axum.
//! - `clients`: one file per service called.
//! - `error`: [`ApiError`](error::ApiError), rendered as problem+json.
//! - `metrics`: checkouts by outcome.

mod clients;
mod config;
mod domain;
mod error;
mod metrics;
mod routes;

use axum::{
    Router,
    routing::{get, post},
};

pub use config::Config;

use crate::clients::{Notifications, Orders, Users};

#[derive(Clone)]
struct AppState {
    users: Users,
    orders: Orders,
    notifications: Notifications,
    metrics: metrics::CheckoutMetrics,
}

/// Binds the listener. The gateway starts without waiting for its
/// dependencies; `/readyz` says when they answer.
pub async fn build(config: Config) -> anyhow::Result<platform::Server> {
    let state = AppState {
        users: Users::new(config.users_url),
        orders: Orders::new(config.orders_url),
        notifications: Notifications::new(config.notifications_url),
        metrics: metrics::CheckoutMetrics::new(),
    };
    Ok(platform::Server::bind(config.listen_addr, router(state, config.faults)).await?)
}

fn router(state: AppState, faults: platform::faults::Switch) -> Router {
    let api = Router::new()
        .route("/checkout", post(routes::checkout::checkout))
        .route("/orders/{order_id}", get(routes::orders::get));
    platform::service_router(
        platform::ServiceOptions {
            name: "gateway",
            deadline: config::REQUEST_DEADLINE,
            faults,
        },
        api,
        get(routes::health::ready),
    )
    .with_state(state)
}
