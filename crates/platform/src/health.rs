//! Liveness and readiness.
//!
//! Both are added to a router after the trace layer: orchestrators probe
//! them every few seconds, and their spans would bury the real traffic.

use std::{sync::OnceLock, time::Duration};

use axum::{Router, http::StatusCode, routing::get};
use reqwest::Url;

/// How long a readiness probe waits for a dependency.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// `GET /healthz`: the process is alive and serving.
pub fn liveness<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/healthz", get(|| async { "ok" }))
}

/// The answer of `/readyz`: 200 when every dependency is reachable.
pub fn readiness(ready: bool) -> (StatusCode, &'static str) {
    if ready {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    }
}

/// Whether the service at `base` answers its `/healthz`. Untraced, like the
/// endpoint it calls.
pub async fn is_alive(base: &Url) -> bool {
    let Ok(url) = base.join("healthz") else {
        return false;
    };
    let Some(client) = probe_client() else {
        return false;
    };
    client
        .get(url)
        .send()
        .await
        .is_ok_and(|response| response.status().is_success())
}

/// One client for every probe: a client holds a connection pool, and
/// building one per probe would open new connections every few seconds.
fn probe_client() -> Option<&'static reqwest::Client> {
    static CLIENT: OnceLock<Option<reqwest::Client>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            #[expect(
                clippy::disallowed_methods,
                reason = "probes are deliberately untraced, like /healthz itself"
            )]
            let builder = reqwest::Client::builder();
            builder.timeout(PROBE_TIMEOUT).build().ok()
        })
        .as_ref()
}
