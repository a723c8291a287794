//! The outbox relay: publishes the events the outbox holds to JetStream,
//! oldest first, and marks each sent once JetStream has acknowledged it.
//!
//! A checkout never waits for it: confirming an order only writes the
//! outbox row and wakes the relay. With NATS away the relay backs off and
//! tries again; the events wait in the outbox and go out in order when it
//! is back. A row published but not yet marked (a crash in between) goes
//! out again, and JetStream drops the copy: `Nats-Msg-Id` is the event id.
//! That is also what makes stopping safe: at shutdown the task ends at its
//! next await; a publish cut short leaves its row unsent, to go out (or be
//! dropped as a copy) on the next start.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use async_nats::jetstream::{self, message::PublishMessage};
use platform::backoff::Backoff;
use telemetry::{
    db::Database,
    messaging::{self, Destination},
};
use tokio::sync::Notify;
use tracing::Instrument;
use url::Url;

use crate::db::{self, outbox::OutboxRow};

/// Events published per transaction.
const BATCH: i64 = 32;
const FIRST_RETRY: Duration = Duration::from_millis(500);
const LAST_RETRY: Duration = Duration::from_secs(30);

/// Wakes the relay when there is something to publish. Cheap to clone.
#[derive(Clone)]
pub struct Relay {
    wake: Arc<Notify>,
}

impl Relay {
    /// Starts the relay on its own task. NATS need not be up: the client
    /// connects in the background and the relay waits for it.
    pub async fn start(db: Database, nats_url: &Url) -> anyhow::Result<Self> {
        let client = platform::nats::connect(nats_url).await?;
        let destination = Destination::new(crate::events::ORDER_CONFIRMED, nats_url);
        let wake = Arc::new(Notify::new());
        // The first round publishes whatever an earlier run left unsent.
        wake.notify_one();
        tokio::spawn(run(
            db,
            jetstream::new(client),
            destination,
            Arc::clone(&wake),
        ));
        Ok(Self { wake })
    }

    /// Called after a transaction that wrote to the outbox commits.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

async fn run(
    db: Database,
    jetstream: jetstream::Context,
    destination: Destination,
    wake: Arc<Notify>,
) {
    let mut backoff = Backoff::new(FIRST_RETRY, LAST_RETRY);
    let mut stream_exists = false;
    loop {
        wake.notified().await;
        while let Err(error) =
            publish_unsent(&db, &jetstream, &destination, &mut stream_exists).await
        {
            tracing::warn!(exception.message = format!("{error:#}"), retry_in = ?backoff.next_delay(), "outbox relay paused");
            backoff.wait().await;
        }
        backoff.reset();
    }
}

/// Publishes batches until the outbox has nothing unsent.
async fn publish_unsent(
    db: &Database,
    jetstream: &jetstream::Context,
    destination: &Destination,
    stream_exists: &mut bool,
) -> anyhow::Result<()> {
    if !*stream_exists {
        jetstream
            .get_or_create_stream(platform::nats::orders_stream())
            .await
            .context("creating the ORDERS stream")?;
        *stream_exists = true;
    }
    while publish_batch(db, jetstream, destination).await? {}
    Ok(())
}

/// Publishes the oldest unsent events; returns whether more may be
/// waiting. A short batch was the last: asking again would cost a
/// transaction to find nothing, and a row committed since has woken the
/// relay for another round.
async fn publish_batch(
    db: &Database,
    jetstream: &jetstream::Context,
    destination: &Destination,
) -> anyhow::Result<bool> {
    let mut tx = db.begin().await?;
    // The scan for unsent rows is not traced. A relay pass is no request of
    // anybody's: as a trace of its own it would stand beside every checkout
    // it serves (and one more for the pass that finds nothing), and it
    // would be sampled even when the checkout was not. What publishing an
    // event costs is in that event's own trace: its `send` span and the
    // `UPDATE outbox` that marks it sent, under the creation context, so
    // an unsampled checkout's event stays unsampled end to end.
    let rows = telemetry::db::untraced(db::outbox::unsent(&mut tx, BATCH)).await?;
    for row in &rows {
        publish(jetstream, destination, row, &mut tx).await?;
    }
    tx.commit().await?;
    Ok(i64::try_from(rows.len()) == Ok(BATCH))
}

/// One event: `send` span under its creation context, publish with the
/// creation context in the headers, wait for the ack, mark it sent.
async fn publish(
    jetstream: &jetstream::Context,
    destination: &Destination,
    row: &OutboxRow,
    tx: &mut telemetry::db::Transaction,
) -> anyhow::Result<()> {
    let creation = row.creation_context().context();
    let span = messaging::send_span(destination, &row.event_id, &creation);
    let sent = async {
        let mut headers = async_nats::HeaderMap::new();
        messaging::inject(&creation, &mut headers);
        // `headers` before `message_id`: setting the headers replaces them all.
        let message = PublishMessage::build()
            .headers(headers)
            .message_id(&row.event_id)
            .payload(row.payload.clone().into());
        let ack = jetstream
            .send_publish(row.subject.clone(), message)
            .await
            .context("publishing")?;
        ack.await.context("waiting for JetStream's ack")?;
        db::outbox::mark_sent(tx, &row.event_id).await?;
        anyhow::Ok(())
    }
    .instrument(span.clone())
    .await;
    if let Err(error) = &sent {
        messaging::record_failure(&span, "publish_failed", &format!("{error:#}"));
    }
    messaging::record_sent(destination, sent.as_ref().err().map(|_| "publish_failed"));
    sent
}
