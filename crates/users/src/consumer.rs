//! The durable JetStream consumer `users` of `orders.confirmed`: keeps each
//! customer's purchase totals.
//!
//! Each message is handled inside a `process orders.confirmed` span whose
//! parent is the context the event was created in (from its headers), so
//! the checkout, its event and this consumer are one trace. It is acked
//! only after the totals are committed; a message whose body cannot be
//! read is terminated, so it is not redelivered forever, and counted.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::Context;
use async_nats::jetstream::{self, AckKind, consumer::pull};
use platform::backoff::Backoff;
use serde::Deserialize;
use telemetry::{
    db::Database,
    messaging::{self, Destination},
};
use tokio_stream::StreamExt;
use tracing::Instrument;
use url::Url;

use crate::db;

const SUBJECT: &str = "orders.confirmed";
const CONSUMER: &str = "users";
const FIRST_RETRY: Duration = Duration::from_millis(500);
const LAST_RETRY: Duration = Duration::from_secs(30);
/// Redelivery of a message that failed for a reason worth retrying.
const RETRY_DELAY: Duration = Duration::from_secs(2);

/// The part of the event this service needs.
#[derive(Deserialize)]
struct OrderConfirmed {
    event_id: String,
    customer_id: String,
    total_cents: i64,
}

/// Starts consuming on its own task. NATS need not be up: the client
/// connects in the background, and `/readyz` does not wait for it.
pub async fn start(db: Database, nats_url: &Url) -> anyhow::Result<()> {
    let client = platform::nats::connect(nats_url).await?;
    let destination = Destination::new(SUBJECT, nats_url);
    tokio::spawn(run(db, jetstream::new(client), destination));
    Ok(())
}

async fn run(db: Database, jetstream: jetstream::Context, destination: Destination) {
    let poisoned = Arc::new(AtomicU64::new(0));
    let mut backoff = Backoff::new(FIRST_RETRY, LAST_RETRY);
    loop {
        if let Err(error) = consume(&db, &jetstream, &destination, &poisoned, &mut backoff).await {
            tracing::warn!(exception.message = format!("{error:#}"), retry_in = ?backoff.next_delay(), "consumer paused");
        }
        backoff.wait().await;
    }
}

async fn consume(
    db: &Database,
    jetstream: &jetstream::Context,
    destination: &Destination,
    poisoned: &Arc<AtomicU64>,
    backoff: &mut Backoff,
) -> anyhow::Result<()> {
    let stream = jetstream
        .get_or_create_stream(platform::nats::orders_stream())
        .await
        .context("opening the ORDERS stream")?;
    let consumer = stream
        .get_or_create_consumer(
            CONSUMER,
            pull::Config {
                durable_name: Some(CONSUMER.to_owned()),
                filter_subject: SUBJECT.to_owned(),
                ..pull::Config::default()
            },
        )
        .await
        .context("opening the users consumer")?;
    let mut messages = consumer.messages().await.context("pulling messages")?;
    backoff.reset();
    while let Some(message) = messages.next().await {
        handle(
            db,
            destination,
            poisoned,
            message.context("receiving a message")?,
        )
        .await;
    }
    Ok(())
}

async fn handle(
    db: &Database,
    destination: &Destination,
    poisoned: &AtomicU64,
    message: jetstream::Message,
) {
    let empty = async_nats::HeaderMap::new();
    let headers = message.headers.as_ref().unwrap_or(&empty);
    let creation = messaging::extract(headers);
    let message_id = headers
        .get("Nats-Msg-Id")
        .map(async_nats::HeaderValue::as_str)
        .unwrap_or_default();
    let span = messaging::process_span(destination, message_id, CONSUMER, &creation);
    let started = std::time::Instant::now();
    // What went wrong, if anything, and whether the ack reached the server.
    let (error_type, acked) = async {
        let Ok(event) = serde_json::from_slice::<OrderConfirmed>(&message.payload) else {
            let count = poisoned.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::warn!(
                poison_messages = count,
                "unreadable orders.confirmed message terminated"
            );
            messaging::record_failure(
                &tracing::Span::current(),
                "invalid_payload",
                "unreadable message body",
            );
            return (Some("invalid_payload"), message.ack_with(AckKind::Term).await);
        };
        match db::purchases::add_confirmed_order(
            db,
            &event.event_id,
            &event.customer_id,
            event.total_cents,
        )
        .await
        {
            Ok(applied) => {
                tracing::info!(
                    messaging.message.id = event.event_id.as_str(),
                    applied,
                    "order.confirmed processed"
                );
                (None, message.ack().await)
            }
            Err(error) => {
                tracing::warn!(exception.message = %error, "order.confirmed not processed; redelivery asked");
                messaging::record_failure(
                    &tracing::Span::current(),
                    "database",
                    &error.to_string(),
                );
                (
                    Some("database"),
                    message.ack_with(AckKind::Nak(Some(RETRY_DELAY))).await,
                )
            }
        }
    }
    .instrument(span)
    .await;
    messaging::record_processed(destination, CONSUMER, started.elapsed(), error_type);
    if let Err(error) = acked {
        // The server redelivers an unacknowledged message after its ack wait.
        tracing::warn!(exception.message = %error, "acknowledging a message failed");
    }
}
