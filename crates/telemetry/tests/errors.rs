//! Errors name what is at fault: the endpoint an export failed to reach
//! and why, the database a service could not connect to and why.

use std::collections::HashMap;

use service_telemetry::{
    Telemetry,
    config::TelemetryConfig,
    opentelemetry::trace::{Tracer as _, TracerProvider as _},
};

/// Nothing listens on port 1 of loopback.
const NOWHERE: &str = "127.0.0.1:1";

#[test]
fn a_failed_export_names_the_endpoint_and_the_reason() {
    let vars = HashMap::from([
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(),
            format!("http://{NOWHERE}"),
        ),
        ("OTEL_METRICS_EXPORTER".to_owned(), "none".to_owned()),
        ("OTEL_LOGS_EXPORTER".to_owned(), "none".to_owned()),
    ]);
    let config = TelemetryConfig::from_vars("failing", vars).expect("a configuration");
    let telemetry = Telemetry::new(&config).expect("telemetry");
    let provider = telemetry.tracer_provider();
    provider.tracer("test").in_span("lost", |_| {});
    let error = provider
        .force_flush()
        .expect_err("nothing listens there")
        .to_string();
    assert!(
        error.contains(&format!("http://{NOWHERE}/v1/traces")),
        "the error does not name the endpoint: {error}"
    );
    assert!(
        error.contains("Connection refused"),
        "the error does not say why: {error}"
    );
}

#[tokio::test]
#[cfg(feature = "sqlx")]
async fn a_database_that_is_down_is_named_with_the_reason() {
    let error = service_telemetry::db::Database::connect(&format!(
        "postgres://postgres:postgres@{NOWHERE}/orders"
    ))
    .await
    .expect_err("nothing listens there")
    .to_string();
    assert!(
        error.contains(&format!("{NOWHERE}/orders")),
        "the error does not name the database: {error}"
    );
    assert!(
        error.contains("refused"),
        "the error does not say why: {error}"
    );
}
