//! The context survives a real NATS server: published with the message's
//! headers, read back from the delivered message. Needs NATS on
//! 127.0.0.1:4222 (`.ci/run` starts it).

use opentelemetry::{
    global,
    propagation::TextMapCompositePropagator,
    trace::{TraceContextExt, TracerProvider as _},
};
use opentelemetry_sdk::{
    propagation::{BaggagePropagator, TraceContextPropagator},
    trace::SdkTracerProvider,
};
use tokio_stream::StreamExt;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;

#[tokio::test]
async fn the_creation_context_crosses_a_real_nats_server() -> anyhow::Result<()> {
    global::set_text_map_propagator(TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ]));
    let provider = SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    let _default = tracing::subscriber::set_default(subscriber);

    let client = async_nats::connect("nats://127.0.0.1:4222").await?;
    let subject = format!("telemetry.test.{}", std::process::id());
    let mut subscription = client.subscribe(subject.clone()).await?;

    let creation = service_telemetry::messaging::create_span(&subject, "evt_test");
    let mut headers = async_nats::HeaderMap::new();
    service_telemetry::messaging::inject(&creation.context(), &mut headers);
    client
        .publish_with_headers(subject, headers, "{}".into())
        .await?;
    client.flush().await?;

    let message = tokio::time::timeout(std::time::Duration::from_secs(5), subscription.next())
        .await?
        .ok_or_else(|| anyhow::anyhow!("no message"))?;
    let empty = async_nats::HeaderMap::new();
    let received =
        service_telemetry::messaging::extract(message.headers.as_ref().unwrap_or(&empty));
    assert_eq!(
        received.span().span_context().span_id(),
        creation.context().span().span_context().span_id(),
        "the consumer sees the creation context"
    );
    Ok(())
}
