//! The `orders.confirmed` event: written to the outbox inside the
//! transaction that confirms the order, under its `create` span.

use serde::Serialize;
use telemetry::messaging::{self, StoredContext};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use tracing::Instrument;

use crate::{db, domain::OrderId};

pub const ORDER_CONFIRMED: &str = "orders.confirmed";

/// The event's body, as the contract lists it.
#[derive(Serialize)]
struct OrderConfirmed<'a> {
    event_id: &'a str,
    order_id: &'a str,
    customer_id: &'a str,
    total_cents: i64,
    currency: &'a str,
    occurred_at: String,
}

/// Records that `order` was confirmed, for the relay to publish.
pub async fn record_order_confirmed(
    tx: &mut telemetry::db::Transaction,
    order_id: &OrderId,
    customer_id: &str,
    total_cents: i64,
    currency: &str,
) -> anyhow::Result<()> {
    let event_id = platform::id::new("evt");
    let event = OrderConfirmed {
        event_id: &event_id,
        order_id: order_id.as_str(),
        customer_id,
        total_cents,
        currency,
        occurred_at: OffsetDateTime::now_utc().format(&Rfc3339)?,
    };
    let payload = serde_json::to_string(&event)?;
    // The creation context is this span's: the relay sends under it later,
    // and the consumer processes under it, so all of it is one trace.
    let span = messaging::create_span(ORDER_CONFIRMED, &event_id);
    let creation = StoredContext::of(&span);
    db::outbox::insert(tx, &event_id, ORDER_CONFIRMED, payload, creation)
        .instrument(span)
        .await?;
    Ok(())
}
