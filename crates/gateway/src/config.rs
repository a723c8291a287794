use std::{net::SocketAddr, time::Duration};

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
