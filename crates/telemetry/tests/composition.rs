//! A service with a subscriber of its own: the crate's layers beside its
//! own, tracing that does not depend on `RUST_LOG`, and `init` refusing,
//! before it sets anything global, when a subscriber is already there.
//!
//! One test: the global subscriber and providers are per process.

#![allow(
    clippy::expect_used,
    reason = "a failed check is a panic with the reason in its message"
)]

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use service_telemetry::{
    InitError, Telemetry,
    config::TelemetryConfig,
    opentelemetry::{global, trace::Span as _, trace::Tracer as _},
    tracing,
    tracing_subscriber::{self, Layer, prelude::*},
};

/// A layer of the service's own: counts the events it is given.
struct CountEvents(Arc<AtomicUsize>);

impl<S: tracing::Subscriber> Layer<S> for CountEvents {
    fn on_event(&self, _: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

fn built(rust_log: &str) -> Telemetry {
    let vars = HashMap::from([
        ("RUST_LOG".to_owned(), rust_log.to_owned()),
        ("OTEL_TRACES_EXPORTER".to_owned(), "none".to_owned()),
        ("OTEL_METRICS_EXPORTER".to_owned(), "none".to_owned()),
        ("OTEL_LOGS_EXPORTER".to_owned(), "none".to_owned()),
    ]);
    let config = TelemetryConfig::from_vars("composed", vars).expect("a configuration");
    Telemetry::new(&config).expect("telemetry")
}

#[test]
fn layers_compose_tracing_ignores_rust_log_and_init_refuses_a_second_subscriber() {
    // RUST_LOG=off decides what is logged, not what is traced: the span is
    // made and has a trace id; the service's own layer still gets events.
    let telemetry = built("off");
    let counted = Arc::new(AtomicUsize::new(0));
    let subscriber = tracing_subscriber::registry()
        .with(telemetry.layer())
        .with(CountEvents(Arc::clone(&counted)));
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("request");
        let trace_id = span.in_scope(service_telemetry::current_trace_id);
        assert!(trace_id.is_some(), "RUST_LOG=off turned tracing off");
        span.in_scope(|| tracing::warn!("seen by the service's layer"));
    });
    assert_eq!(counted.load(Ordering::Relaxed), 1);

    // Someone else's subscriber first: `init` says so and sets nothing.
    tracing_subscriber::registry()
        .try_init()
        .expect("the first subscriber");
    let error = built("info").init().err().expect("init must refuse");
    assert!(matches!(error, InitError::SubscriberExists), "{error}");
    let mut span = global::tracer("probe").start("probe");
    assert!(
        !span.is_recording(),
        "init set the global tracer provider before failing"
    );
    span.end();
    let fields = global::get_text_map_propagator(|propagator| propagator.fields().count());
    assert_eq!(fields, 0, "init set the global propagator before failing");
}
