//! `gateway`: the public API of the shop.
//!
//! `POST /checkout` validates the request, looks the customer up in
//! `users`, has `orders` place and pay for the order, and asks
//! `notifications` to confirm it to the customer. `GET /orders/{order_id}`
//! reads an order back. It owns no database: `clients/` is its `db/`.
//!
//! It also serves the storefront, the shop page of `web/` (`GET /`,
//! `/assets/`), and takes the page's spans at `POST /otlp/v1/traces` to
//! forward them to the Collector (`telemetry::browser`).
//!
//! # Layout
//!
//! - `config`: [`Config`], from the environment.
//! - `routes`: thin handlers.
//! - `domain`: the checkout, parsed and validated; no axum.
//! - `clients`: one file per service called.
//! - `error`: [`ApiError`](error::ApiError), rendered as problem+json.
//! - `metrics`: checkouts by outcome.
//! - `storefront`: the page, with its request's trace context, and its
//!   files.

mod clients;
mod config;
mod domain;
mod error;
mod metrics;
mod routes;
mod storefront;

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
    storefront: storefront::Storefront,
}

/// Binds the listener. The gateway starts without waiting for its
/// dependencies; `/readyz` says when they answer.
pub async fn build(config: Config) -> anyhow::Result<platform::Server> {
    let state = AppState {
        users: Users::new(config.users_url),
        orders: Orders::new(config.orders_url),
        notifications: Notifications::new(config.notifications_url),
        metrics: metrics::CheckoutMetrics::new(),
        storefront: storefront::Storefront::load(&config.storefront_dir, config.grafana_url),
    };
    // The page's spans: `service.name=storefront` only.
    let browser_spans = telemetry::browser::BrowserSpans::from_env("storefront")?;
    let router = router(state, config.faults)
        .merge(storefront::assets(&config.storefront_dir))
        .merge(browser_spans.into_router());
    Ok(platform::Server::bind(config.listen_addr, router).await?)
}

/// The API and the page, traced; the files and the browser spans' route
/// are merged after, untraced.
fn router(state: AppState, faults: platform::faults::Switch) -> Router {
    let api = Router::new()
        .route("/", get(routes::storefront::page))
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
