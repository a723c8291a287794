//! Faults on demand, for demos and tests: one request asks one service to
//! fail, through a W3C `baggage` entry `fault.<service>`, so a single
//! checkout reproduces a single failure and its trace shows where.
//!
//! | entry | the service |
//! | --- | --- |
//! | `fault.payments=error` | answers 500, its server span carrying an exception event |
//! | `fault.users=latency:800ms` | waits 800 ms, then serves the request |
//! | `fault.orders=timeout` | never answers: its caller's deadline passes |
//! | `fault.orders=db_error` | serves the request with every statement failing |
//!
//! Off unless the service runs with `FAULTS_ENABLED=true`: otherwise such
//! baggage does nothing, so no caller can break a production service.
//! Baggage travels on every hop, so an entry naming a service further down
//! reaches it wherever it is called from.

use std::{str::FromStr, time::Duration};

use axum::{
    extract::Request,
    http::{HeaderMap, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tracing::Span;

use crate::Problem;

/// The switch, read with every other variable of a service's `Config`.
#[derive(Clone, Copy, Debug, Default, clap::Args)]
pub struct Switch {
    /// Honour `fault.<service>` baggage entries (for demos and tests).
    #[arg(long = "faults-enabled", env = "FAULTS_ENABLED", default_value_t = false, action = clap::ArgAction::Set)]
    pub enabled: bool,
}

/// Injected latency is capped, so one request cannot park a task for long.
const MAX_LATENCY: Duration = Duration::from_secs(30);

/// One fault a request can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    Error,
    Latency(Duration),
    Timeout,
    DbError,
}

impl FromStr for Fault {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        match value.trim() {
            "error" => Ok(Self::Error),
            "timeout" => Ok(Self::Timeout),
            "db_error" => Ok(Self::DbError),
            other => other
                .strip_prefix("latency:")
                .and_then(|latency| latency.strip_suffix("ms"))
                .and_then(|millis| millis.parse::<u64>().ok())
                .map(|millis| Self::Latency(Duration::from_millis(millis).min(MAX_LATENCY)))
                .ok_or_else(|| format!("unknown fault {other:?}")),
        }
    }
}

/// The fault the request's baggage asks of `service`, if any. Entries that
/// do not parse are ignored, like any malformed baggage.
pub fn requested(headers: &HeaderMap, service: &str) -> Option<Fault> {
    telemetry::propagation::baggage_entry(headers, &format!("fault.{service}"))?
        .parse()
        .ok()
}

/// axum middleware: acts out the fault a request asks of `service`.
/// Installed inside the trace and deadline layers, so the server span shows
/// the fault and a timeout ends at the deadline.
pub async fn inject(service: &'static str, request: Request, next: Next) -> Response {
    let Some(fault) = requested(request.headers(), service) else {
        return next.run(request).await;
    };
    tracing::info!(fault = ?fault, "injecting a fault");
    match fault {
        Fault::Error => {
            let message = format!("fault.{service}=error asked for a failure");
            telemetry::add_exception_event(&Span::current(), "InjectedFault", &message);
            Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "injected-fault",
                "Injected fault",
                message,
            )
            .into_response()
        }
        Fault::Latency(latency) => {
            tokio::time::sleep(latency).await;
            next.run(request).await
        }
        // The deadline layer around this one ends the wait.
        Fault::Timeout => std::future::pending().await,
        Fault::DbError => telemetry::db::with_failing_statements(next.run(request)).await,
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn faults_parse_from_their_baggage_values() {
        assert_eq!("error".parse(), Ok(Fault::Error));
        assert_eq!("timeout".parse(), Ok(Fault::Timeout));
        assert_eq!("db_error".parse(), Ok(Fault::DbError));
        assert_eq!(
            "latency:800ms".parse(),
            Ok(Fault::Latency(Duration::from_millis(800)))
        );
        assert_eq!(
            "latency:999999999ms".parse(),
            Ok(Fault::Latency(MAX_LATENCY))
        );
        for bad in ["", "latency:", "latency:5s", "latency:-1ms", "explode"] {
            assert!(bad.parse::<Fault>().is_err(), "{bad}");
        }
    }

    #[test]
    fn only_the_entry_naming_the_service_counts() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "baggage",
            HeaderValue::from_static(
                "synthetic_request=true,fault.payments=error,fault.users=latency:5ms",
            ),
        );
        assert_eq!(requested(&headers, "payments"), Some(Fault::Error));
        assert_eq!(
            requested(&headers, "users"),
            Some(Fault::Latency(Duration::from_millis(5)))
        );
        assert_eq!(requested(&headers, "orders"), None);
        headers.insert("baggage", HeaderValue::from_static("fault.orders=nonsense"));
        assert_eq!(requested(&headers, "orders"), None);
    }
}
