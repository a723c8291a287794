//! With nothing listening where telemetry goes, a service says so once,
//! with the endpoint, and once more when it answers again: not a line per
//! failed batch and signal, burying the lines a user is watching.
//!
//! One test: the global subscriber is per process.

#![allow(
    clippy::expect_used,
    reason = "a failed check is a panic with the reason in its message"
)]

use std::{
    collections::HashMap,
    fmt::Write as _,
    sync::{Arc, Mutex},
};

use service_telemetry::{
    Telemetry,
    config::TelemetryConfig,
    opentelemetry::trace::{Tracer as _, TracerProvider as _},
    tracing,
    tracing_subscriber::{self, Layer, prelude::*},
};

/// The message of every WARN and ERROR event, and every INFO one about
/// exporting, that reaches the subscriber.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> Layer<S> for Lines {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let metadata = event.metadata();
        if *metadata.level() <= tracing::Level::WARN
            || metadata.target() == "service_telemetry::export"
        {
            let mut message = format!("{} {}", metadata.target(), metadata.name());
            event.record(
                &mut |field: &tracing::field::Field, value: &dyn std::fmt::Debug| {
                    let _ = write!(message, " {}={value:?}", field.name());
                },
            );
            self.0.lock().expect("not poisoned").push(message);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_endpoint_is_one_line_until_it_answers_again() {
    // A port nothing listens on, until the test listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = listener.local_addr().expect("an address").port();
    drop(listener);
    let vars = HashMap::from([
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(),
            format!("http://127.0.0.1:{port}"),
        ),
        ("OTEL_METRICS_EXPORTER".to_owned(), "none".to_owned()),
    ]);
    let config = TelemetryConfig::from_vars("quiet", vars).expect("a configuration");
    let telemetry = Telemetry::new(&config).expect("telemetry");
    let lines = Lines::default();
    tracing_subscriber::registry()
        .with(telemetry.layer())
        .with(lines.clone())
        .try_init()
        .expect("the only subscriber");
    let provider = telemetry.tracer_provider().clone();
    let tracer = provider.tracer("test");

    for _ in 0..5 {
        tracer.in_span("lost", |_| {});
        let _ = provider.force_flush();
    }
    let down: Vec<String> = lines.0.lock().expect("not poisoned").drain(..).collect();
    assert_eq!(down.len(), 1, "{down:#?}");
    assert!(
        down[0].contains(&format!("cannot export to http://127.0.0.1:{port}"))
            && down[0].contains("Connection refused"),
        "{down:#?}"
    );

    // The endpoint comes back: one line says so, and spans go out.
    let received = Arc::new(Mutex::new(0_usize));
    let router = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post({
            let received = Arc::clone(&received);
            move || async move {
                *received.lock().expect("not poisoned") += 1;
                ""
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("the same port");
    tokio::spawn(async move { axum::serve(listener, router).await });
    for _ in 0..3 {
        tracer.in_span("exported", |_| {});
        provider.force_flush().expect("the endpoint answers");
    }
    let up: Vec<String> = lines.0.lock().expect("not poisoned").drain(..).collect();
    assert_eq!(up.len(), 1, "{up:#?}");
    assert!(
        up[0].contains(&format!("http://127.0.0.1:{port} answers again")),
        "{up:#?}"
    );
    assert_eq!(*received.lock().expect("not poisoned"), 3);
}
