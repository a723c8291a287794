//! The gateway's own metric: checkouts by outcome (`checkout.requests`,
//! defined in the suite's registry), so a dashboard can tell a declined
//! card from a failure of ours.

use platform::client::CallError;
use telemetry::metrics::{Counter, KeyValue};

use crate::error::ApiError;

/// Cheap to clone: the counter is a handle.
#[derive(Clone)]
pub struct CheckoutMetrics {
    requests: Counter<u64>,
}

impl CheckoutMetrics {
    /// Made once the telemetry is initialised (`telemetry::metrics`).
    pub fn new() -> Self {
        Self {
            requests: telemetry::metrics::meter("gateway")
                .u64_counter("checkout.requests")
                .with_unit("{request}")
                .with_description("Checkouts answered, by outcome.")
                .build(),
        }
    }

    /// Counts one answered checkout.
    pub fn record<T>(&self, answer: &Result<T, ApiError>) {
        self.requests
            .add(1, &[KeyValue::new("checkout.outcome", outcome(answer))]);
    }
}

/// One of a few words, never the problem's text: no unbounded values.
fn outcome<T>(answer: &Result<T, ApiError>) -> &'static str {
    match answer {
        Ok(_) => "confirmed",
        Err(ApiError::Call(CallError::Problem { problem, .. })) => match problem.status {
            402 => "declined",
            409 if problem.kind() == "out-of-stock" => "sold_out",
            400..=499 => "rejected",
            _ => "failed",
        },
        Err(ApiError::InvalidCheckout(_) | ApiError::UnknownOrder(_)) => "rejected",
        Err(ApiError::Call(_)) => "failed",
    }
}
