use std::{net::SocketAddr, time::Duration};

use url::Url;

/// The users service. Every option is read from its environment variable.
#[derive(Debug, clap::Parser)]
#[command(version, about)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "0.0.0.0:8081")]
    pub listen_addr: SocketAddr,

    /// The service's own Postgres database; created if missing.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres:postgres@localhost:5432/users"
    )]
    pub database_url: Url,

    /// NATS server with `JetStream`, whose `orders.confirmed` events keep the
    /// purchase totals.
    #[arg(long, env = "NATS_URL", default_value = "nats://localhost:4222")]
    pub nats_url: Url,

    #[command(flatten)]
    pub faults: platform::faults::Switch,
}

/// A lookup that takes longer has failed.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(3);
