use std::{net::SocketAddr, path::PathBuf, time::Duration};

use url::Url;

/// The gateway. Every option is read from its environment variable.
#[derive(Debug, clap::Parser)]
#[command(version, about)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "0.0.0.0:8080")]
    pub listen_addr: SocketAddr,

    /// Base URL of the users service.
    #[arg(long, env = "USERS_URL", default_value = "http://localhost:8081")]
    pub users_url: Url,

    /// Base URL of the orders service.
    #[arg(long, env = "ORDERS_URL", default_value = "http://localhost:8082")]
    pub orders_url: Url,

    /// Base URL of the notifications service.
    #[arg(
        long,
        env = "NOTIFICATIONS_URL",
        default_value = "http://localhost:8084"
    )]
    pub notifications_url: Url,

    /// The built storefront: `index.html` and `assets/` (`npm run build`
    /// in `web/` writes them to `web/dist`).
    #[arg(long, env = "STOREFRONT_DIR", default_value = "web/dist")]
    pub storefront_dir: PathBuf,

    /// Grafana as the storefront's visitors reach it, for the link to a
    /// checkout's trace.
    #[arg(long, env = "GRAFANA_URL", default_value = "http://localhost:3000")]
    pub grafana_url: Url,

    #[command(flatten)]
    pub faults: platform::faults::Switch,
}

/// A lookup or a notification should be quick; a slow one is a failure.
pub const QUICK_CALL_TIMEOUT: Duration = Duration::from_secs(3);

/// Placing an order includes the payment: longer than orders' own payment
/// timeout, so orders answers first and says what became of the order.
pub const ORDER_TIMEOUT: Duration = Duration::from_secs(10);

/// A whole checkout, payment included, must be answered within this; the
/// caller's own shorter deadline, if it sends one, wins.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(10);
