//! A NATS message traced from its creation to its consumer, in one file:
//! `create` (PRODUCER, whose context travels in the headers), `send`
//! (CLIENT, the publish), and `process` (CONSUMER, parented by and linked
//! to the creation context), one trace.
//!
//! ```sh
//! NATS_URL=nats://127.0.0.1:4222 cargo run -p telemetry --example nats_pair
//! ```

use anyhow::Context;
use service_telemetry::messaging::{self, Destination};
use tokio_stream::StreamExt;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

const MESSAGE_ID: &str = "msg_example_1";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let env =
        |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
    let telemetry = service_telemetry::init("nats-example", env!("CARGO_PKG_VERSION"))?;
    let url: url::Url = env("NATS_URL", "nats://127.0.0.1:4222").parse()?;
    let subject = env("SUBJECT", "example.greetings");
    let destination = Destination::new(&subject, &url);
    let client = async_nats::connect(url.as_str()).await?;
    let mut inbox = client.subscribe(subject.clone()).await?;

    // Producer: the message is made inside `create`; its context goes into
    // the headers, and the publish is a `send` span under it.
    let create = messaging::create_span(&subject, MESSAGE_ID);
    let creation = create.context();
    let mut headers = async_nats::HeaderMap::new();
    messaging::inject(&creation, &mut headers);
    let publish = client.publish_with_headers(subject.clone(), headers, "hello".into());
    publish
        .instrument(messaging::send_span(&destination, MESSAGE_ID, &creation))
        .await?;
    client.flush().await?;
    drop(create);

    // Consumer: the headers give the creation context back; `process` is
    // its child and links to it.
    let message = inbox.next().await.context("no message came back")?;
    let empty = async_nats::HeaderMap::new();
    let creation = messaging::extract(message.headers.as_ref().unwrap_or(&empty));
    let process = messaging::process_span(&destination, MESSAGE_ID, "example", &creation);
    process.in_scope(|| tracing::info!(bytes = message.payload.len(), "message processed"));
    drop(process);

    // Export what is still queued.
    telemetry.shutdown();
    Ok(())
}
