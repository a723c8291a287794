//! The `orders.confirmed` event: written to the outbox by the statement
//! that confirms the order, under the event's `create` span.

use serde::Serialize;
use telemetry::messaging::{self, StoredContext};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use tracing::Span;

use crate::{db::outbox::OutboxEvent, domain::OrderId};

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

/// The `orders.confirmed` event of an order, and its `create` span: the
/// creation context, which the relay sends under later and the consumer
/// processes under, so all of it is one trace. The caller writes the event
/// inside the span, in the statement that confirms the order.
pub fn order_confirmed(
    order_id: &OrderId,
    customer_id: &str,
    total_cents: i64,
    currency: &str,
) -> anyhow::Result<(OutboxEvent, Span)> {
    let event_id = platform::id::new("evt");
    let payload = serde_json::to_string(&OrderConfirmed {
        event_id: &event_id,
        order_id: order_id.as_str(),
        customer_id,
        total_cents,
        currency,
        occurred_at: OffsetDateTime::now_utc().format(&Rfc3339)?,
    })?;
    let span = messaging::create_span(ORDER_CONFIRMED, &event_id);
    let creation = StoredContext::of(&span);
    let event = OutboxEvent {
        event_id,
        subject: ORDER_CONFIRMED,
        payload,
        creation,
    };
    Ok((event, span))
}
