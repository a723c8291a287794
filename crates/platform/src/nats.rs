//! What `orders` and `users` share of NATS: the connection and the stream
//! the contract names.

use anyhow::Context;
use async_nats::jetstream::stream;
use url::Url;

/// Connects in the background: NATS being away at start delays nothing,
/// and the client reconnects by itself.
pub async fn connect(url: &Url) -> anyhow::Result<async_nats::Client> {
    // Boxed: the client's connect future is large, and would make every
    // future that awaits it as large.
    let connect = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(url.as_str());
    Box::pin(connect).await.context("invalid NATS_URL")
}

/// Stream `ORDERS`, subjects `orders.>`, as the contract has it. Either
/// side creates it if missing.
pub fn orders_stream() -> stream::Config {
    stream::Config {
        name: "ORDERS".to_owned(),
        subjects: vec!["orders.>".to_owned()],
        ..stream::Config::default()
    }
}
