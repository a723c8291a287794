//! payments' own metric, defined in the suite's registry: settlements by
//! result (`payment.settlements`), how often a lost answer had to be asked
//! for again and what it turned out to be.

use std::sync::LazyLock;

use telemetry::metrics::{Counter, KeyValue};

/// Counts one settlement; `outcome` is one of a few words
/// (`payment.outcome`).
pub fn settlement(outcome: &'static str) {
    static SETTLEMENTS: LazyLock<Counter<u64>> = LazyLock::new(|| {
        telemetry::metrics::meter("payments")
            .u64_counter("payment.settlements")
            .with_unit("{settlement}")
            .with_description("Settlements of payments whose outcome was asked for, by outcome.")
            .build()
    });
    SETTLEMENTS.add(1, &[KeyValue::new("payment.outcome", outcome)]);
}
