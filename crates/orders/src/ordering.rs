//! Placing an order: the business operation, inside its span.

use anyhow::Context;
use platform::client::CallError;
use telemetry::db::Database;
use tracing::{Instrument, Span, field::Empty};

use crate::{
    AppState,
    clients::CardDetails,
    db,
    domain::{NewOrder, OrderId},
    error::ApiError,
    events,
    relay::Relay,
};

/// A confirmed order, as the caller is told about it.
pub struct PlacedOrder {
    pub id: OrderId,
    pub total_cents: i64,
    pub currency: String,
    pub unit_prices: Vec<i64>,
    pub payment_id: String,
}

/// Reserves stock and records the order, charges the card, then confirms
/// the order or gives the stock back: all inside `orders.create_order`.
pub async fn create_order(
    state: &AppState,
    order: &NewOrder,
    card: &CardDetails,
) -> Result<PlacedOrder, ApiError> {
    let id = OrderId::generate();
    let span = tracing::info_span!(
        "orders.create_order",
        otel.kind = "internal",
        order.id = id.as_str(),
        order.customer_id = order.customer_id.as_str(),
        order.item_count = i64::try_from(order.lines.len()).unwrap_or(i64::MAX),
        order.total_cents = Empty,
        order.currency = Empty,
        order.status = Empty,
    );
    async {
        let (total_cents, currency, unit_prices) = place(&state.db, &id, order).await?;
        let span = Span::current();
        span.record("order.total_cents", total_cents);
        span.record("order.currency", currency.as_str());
        tracing::info!(name: "order.reserved", "order reserved");

        let charged = state
            .payments
            .charge(&id, total_cents, &currency, card)
            .await;
        match charged {
            Ok(payment) => {
                confirm(
                    &state.db,
                    &state.relay,
                    &id,
                    &order.customer_id,
                    total_cents,
                    &currency,
                    &payment.payment_id,
                )
                .await?;
                Ok(PlacedOrder {
                    id,
                    total_cents,
                    currency,
                    unit_prices,
                    payment_id: payment.payment_id,
                })
            }
            Err(error) if nothing_charged(&error) => Err(not_charged(&state.db, id, error).await?),
            Err(error) => Err(charge_unknown(&state.db, id, error).await?),
        }
    }
    .instrument(span)
    .await
}

/// Nothing was charged (declined, or payments never reached): the order is
/// failed and its stock given back; the error says which.
async fn not_charged(db: &Database, id: OrderId, error: CallError) -> anyhow::Result<ApiError> {
    fail(db, &id).await?;
    let (exception, message) = match &error {
        CallError::Problem { problem, .. } => ("PaymentFailed", problem.detail.clone()),
        _ => ("PaymentsUnavailable", error.to_string()),
    };
    telemetry::record_exception(&Span::current(), exception, &message);
    Ok(match error {
        CallError::Problem { problem, .. } if problem.status < 500 => ApiError::PaymentFailed {
            order_id: id,
            problem,
        },
        error => ApiError::Payments {
            order_id: id,
            source: error,
        },
    })
}

/// Sent, with no answer to trust: the card may have been charged. The
/// order keeps its stock until the reconciler learns the outcome.
async fn charge_unknown(db: &Database, id: OrderId, error: CallError) -> anyhow::Result<ApiError> {
    db::orders::mark_payment_unknown(db, &id)
        .await
        .context("marking the payment unknown")?;
    let span = Span::current();
    span.record("order.status", "payment_unknown");
    telemetry::record_exception(&span, "PaymentOutcomeUnknown", &error.to_string());
    Ok(ApiError::PaymentUnknown {
        order_id: id,
        source: error,
    })
}

/// Places the order in one statement: the products checked and locked,
/// the stock taken, the order and its lines recorded, or nothing at all.
/// Returns the total, the currency and each line's unit price; or, when
/// the order could not be placed, what was wrong with its first bad line.
async fn place(
    db: &Database,
    id: &OrderId,
    order: &NewOrder,
) -> Result<(i64, String, Vec<i64>), ApiError> {
    let products = db::orders::place(db, id, &order.customer_id, &order.lines)
        .await
        .context("placing the order")?;
    let mut total_cents = 0_i64;
    let mut unit_prices = Vec::with_capacity(order.lines.len());
    let mut currency = None;
    for line in &order.lines {
        let product = products
            .iter()
            .find(|product| product.sku == line.sku.as_str())
            .context("a line missing from the placed order")?;
        let (Some(price_cents), Some(stock), Some(product_currency)) =
            (product.price_cents, product.stock, &product.currency)
        else {
            return Err(ApiError::UnknownSku(product.sku.clone()));
        };
        if stock < line.quantity.get() {
            return Err(ApiError::NotEnoughStock(product.sku.clone()));
        }
        if currency.get_or_insert(product_currency) != &product_currency {
            return Err(anyhow::anyhow!(
                "products of one order are priced in different currencies"
            )
            .into());
        }
        total_cents += price_cents * i64::from(line.quantity.get());
        unit_prices.push(price_cents);
    }
    if !products.iter().all(|product| product.placed) {
        return Err(anyhow::anyhow!("the order was not placed, yet every line checks out").into());
    }
    let currency = currency.cloned().unwrap_or_default();
    Ok((total_cents, currency, unit_prices))
}

/// Whether a failed charge request certainly charged nothing: it never
/// reached payments, payments refused it (4xx: invalid, declined), or
/// payments says the processor was never reached (503). Anything else
/// (a timeout, a 5xx, an unreadable answer) may hide a charge.
fn nothing_charged(error: &CallError) -> bool {
    match error {
        CallError::Unavailable { .. } => true,
        CallError::Problem { problem, .. } => problem.status < 500 || problem.status == 503,
        CallError::Timeout { .. } | CallError::Unexpected { .. } => false,
    }
}

/// Confirms the order and records its event, in one statement: the
/// event exists if and only if the order is confirmed, and only once
/// however many times this runs.
pub async fn confirm(
    db: &Database,
    relay: &Relay,
    id: &OrderId,
    customer_id: &str,
    total_cents: i64,
    currency: &str,
    payment_id: &str,
) -> anyhow::Result<()> {
    let (event, create) = events::order_confirmed(id, customer_id, total_cents, currency)?;
    // The statement runs in the event's `create` span: writing the outbox
    // row is what creates the message. Should another caller have
    // confirmed the order first, the span records a message that was not
    // written; the reconciler's race with a checkout is that rare.
    let confirmed = db::orders::confirm(db, id, payment_id, event)
        .instrument(create)
        .await
        .context("confirming the order")?;
    if confirmed {
        relay.wake();
    }
    let span = Span::current();
    span.record("order.status", "confirmed");
    tracing::info!(name: "order.confirmed", { payment.id = payment_id }, "order confirmed");
    Ok(())
}

/// Marks the order `payment_failed` and gives its stock back, once however
/// many times this runs.
pub async fn fail(db: &Database, id: &OrderId) -> anyhow::Result<()> {
    db::orders::fail_payment(db, id)
        .await
        .context("marking the payment failed and giving the stock back")?;
    Span::current().record("order.status", "payment_failed");
    tracing::info!(name: "order.payment_failed", "order payment failed");
    Ok(())
}
