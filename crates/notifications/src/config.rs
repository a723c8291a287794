use std::{net::SocketAddr, time::Duration};

use url::Url;

/// The notifications service. Every option is read from its environment variable.
#[derive(Debug, clap::Parser)]
#[command(version, about)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "0.0.0.0:8084")]
    pub listen_addr: SocketAddr,

    /// The service's own Postgres database; created if missing.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres:postgres@localhost:5432/notifications"
    )]
    pub database_url: Url,

    #[command(flatten)]
    pub faults: platform::faults::Switch,
}

/// Queueing a message that takes longer has failed.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(3);
