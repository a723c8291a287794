use std::{net::SocketAddr, time::Duration};

use url::Url;

/// The payments service. Every option is read from its environment variable.
#[derive(Debug, clap::Parser)]
#[command(version, about)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "0.0.0.0:8083")]
    pub listen_addr: SocketAddr,

    /// The service's own Postgres database; created if missing.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres:postgres@localhost:5432/payments"
    )]
    pub database_url: Url,

    /// Base URL of the card processor.
    #[arg(
        long,
        env = "CARD_PROCESSOR_URL",
        default_value = "http://localhost:8085"
    )]
    pub card_processor_url: Url,

    #[command(flatten)]
    pub faults: platform::faults::Switch,
}

/// How long a charge may take at the processor before we stop waiting.
pub const CARD_PROCESSOR_TIMEOUT: Duration = Duration::from_secs(5);

/// A charge includes the card processor. The caller's deadline, passed
/// down with each request, is normally the tighter one.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(10);
