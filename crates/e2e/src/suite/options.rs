//! What a test changes about the suite.

use std::collections::BTreeMap;

use super::Service;

/// What a test changes about the suite: extra environment, applied after
/// the suite's own so it can override anything (samplers, endpoints, ...).
#[derive(Debug, Clone, Default)]
pub struct SuiteOptions {
    /// For every service.
    pub env: Vec<(String, String)>,
    /// For one service, applied last.
    pub service_env: BTreeMap<Service, Vec<(String, String)>>,
    /// Services that reach Postgres through another address (a
    /// [`TcpProxy`](crate::TcpProxy) the test controls).
    pub database_through: BTreeMap<Service, std::net::SocketAddr>,
    /// Whether the receiver keeps nothing, for benchmarks
    /// ([`OtlpReceiver::start_discarding`]).
    pub discard_telemetry: bool,
    /// Runs every service but the card processor under `valgrind
    /// --tool=callgrind`, each writing its profile into this folder as
    /// `<service>.<pid>`, for counting instructions
    /// ([`instructions`](crate::instructions)).
    pub callgrind: Option<std::path::PathBuf>,
}

impl SuiteOptions {
    #[must_use]
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Points the service's `DATABASE_URL` at `address` instead of Postgres.
    #[must_use]
    pub fn database_through(mut self, service: Service, address: std::net::SocketAddr) -> Self {
        self.database_through.insert(service, address);
        self
    }

    #[must_use]
    pub fn service_env(
        mut self,
        service: Service,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        let env = self.service_env.entry(service).or_default();
        env.push((key.into(), value.into()));
        self
    }
}
