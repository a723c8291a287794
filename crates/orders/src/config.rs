use std::{net::SocketAddr, time::Duration};

use url::Url;

/// The orders service. Every option is read from its environment variable.
#[derive(Debug, clap::Parser)]
#[command(version, about)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "0.0.0.0:8082")]
    pub listen_addr: SocketAddr,

    /// The service's own Postgres database; created if missing.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres:postgres@localhost:5432/orders"
    )]
    pub database_url: Url,

    /// Base URL of the payments service.
    #[arg(long, env = "PAYMENTS_URL", default_value = "http://localhost:8083")]
    pub payments_url: Url,

    /// NATS server with `JetStream`, where `orders.confirmed` events go.
    #[arg(long, env = "NATS_URL", default_value = "nats://localhost:4222")]
    pub nats_url: Url,

    /// How often, in milliseconds, orders whose payment outcome was lost
    /// are settled with payments.
    #[arg(long, env = "RECONCILE_INTERVAL_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub reconcile_interval_ms: u64,

    #[command(flatten)]
    pub faults: platform::faults::Switch,
}

/// How long a payment may take: longer than the card processor's own
/// timeout in `payments`, so that one answers first.
pub const PAYMENTS_TIMEOUT: Duration = Duration::from_secs(8);

/// Placing an order includes the payment. The gateway's deadline, passed
/// down with each request, is normally the tighter one.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(10);
