//! The conventions' metrics, recorded where the spans are made, so a service
//! gets them without a line of its own: `http.server.request.duration`
//! (the server middleware), `http.client.request.duration` (the traced
//! client, each attempt), `db.client.operation.duration` (every
//! [`Statement`](crate::db::Statement)), `messaging.client.sent.messages`
//! and `messaging.process.duration` ([`messaging`](crate::messaging)).
//!
//! Each instrument takes the attributes its span has, less the ones from an
//! unbounded set (`url.full`, `url.path`, `db.query.text`, ids): a metric's
//! every attribute value makes a time series of its own.
//!
//! A service's own metrics (checkouts by outcome, say) come from [`meter`].
//! Instruments are made from the global meter provider, so they must be
//! made after [`init`](crate::init()): one made before it records nowhere.

// With an integration's feature off, its instruments are never recorded.
#![cfg_attr(
    not(all(
        feature = "axum",
        feature = "reqwest",
        feature = "sqlx",
        feature = "nats"
    )),
    allow(dead_code)
)]

use std::sync::LazyLock;

/// What a service needs to make and use its own instruments.
pub use opentelemetry::{
    KeyValue,
    metrics::{Counter, Meter},
};
use opentelemetry::{global, metrics::Histogram};

/// The conventions' advised bucket boundaries, in seconds, for HTTP and
/// messaging durations.
const REQUEST_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// The conventions' advised boundaries for `db.client.operation.duration`.
const DB_BUCKETS: [f64; 9] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0];

/// The meter for a service's own instruments, named after the service's
/// crate (the instrumentation scope).
pub fn meter(scope: &'static str) -> Meter {
    global::meter(scope)
}

/// The instruments of the conventions this crate records.
pub(crate) struct Instruments {
    pub(crate) http_server_duration: Histogram<f64>,
    pub(crate) http_client_duration: Histogram<f64>,
    pub(crate) db_operation_duration: Histogram<f64>,
    pub(crate) messaging_sent: Counter<u64>,
    pub(crate) messaging_process_duration: Histogram<f64>,
}

/// Made on first use, from the meter provider [`init`](crate::init()) set.
pub(crate) fn instruments() -> &'static Instruments {
    static INSTRUMENTS: LazyLock<Instruments> = LazyLock::new(|| {
        let meter = global::meter("telemetry");
        let duration = |name: &'static str, description: &'static str, buckets: &[f64]| {
            meter
                .f64_histogram(name)
                .with_unit("s")
                .with_description(description)
                .with_boundaries(buckets.to_vec())
                .build()
        };
        Instruments {
            http_server_duration: duration(
                "http.server.request.duration",
                "Duration of HTTP server requests.",
                &REQUEST_BUCKETS,
            ),
            http_client_duration: duration(
                "http.client.request.duration",
                "Duration of HTTP client requests.",
                &REQUEST_BUCKETS,
            ),
            db_operation_duration: duration(
                "db.client.operation.duration",
                "Duration of database client operations.",
                &DB_BUCKETS,
            ),
            messaging_sent: meter
                .u64_counter("messaging.client.sent.messages")
                .with_unit("{message}")
                .with_description("Number of messages producer attempted to send to the broker.")
                .build(),
            messaging_process_duration: duration(
                "messaging.process.duration",
                "Duration of processing operation.",
                &REQUEST_BUCKETS,
            ),
        }
    });
    &INSTRUMENTS
}

/// `attributes` plus `error.type` when there was an error.
pub(crate) fn with_error_type(
    mut attributes: Vec<KeyValue>,
    error_type: Option<String>,
) -> Vec<KeyValue> {
    if let Some(error_type) = error_type {
        attributes.push(KeyValue::new(
            opentelemetry_semantic_conventions::attribute::ERROR_TYPE,
            error_type,
        ));
    }
    attributes
}
