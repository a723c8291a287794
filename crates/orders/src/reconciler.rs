//! The payment reconciler: settles the orders whose payment outcome nobody
//! heard, so that no order is left half-done.
//!
//! An order is unsettled when it is `payment_unknown` (the charge was sent
//! and its answer lost) or still `pending` long after any checkout would
//! have ended (one cut short by a crash). Every few seconds the reconciler
//! asks payments what became of each (`POST /settlements`; payments asks
//! the card processor with the charge's idempotency key if it must), then
//! confirms the order with its event, or marks it `payment_failed` and
//! gives its stock back. Both steps change an order only from an unsettled
//! state, so a checkout finishing late, a second replica or a second pass
//! can never confirm twice or give stock back twice. An outcome payments
//! cannot tell yet is asked again on the next pass.

use std::time::Duration;

use anyhow::Context;
use tracing::{Instrument, field::Empty};

use crate::{AppState, db, domain::OrderId, ordering};

/// Orders settled per pass.
const BATCH: i64 = 20;
/// A `pending` order older than this belongs to no running checkout: the
/// longest request deadline is 10 s.
const STALE_PENDING: Duration = Duration::from_secs(30);
/// How long one order's settlement may take.
const SETTLEMENT_DEADLINE: Duration = Duration::from_secs(10);

/// Starts the reconciler on its own task, a pass every `every`.
pub fn start(state: AppState, every: Duration) {
    tokio::spawn(async move {
        let mut passes = tokio::time::interval(every);
        passes.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            passes.tick().await;
            if let Err(error) = pass(&state).await {
                tracing::warn!(
                    exception.message = format!("{error:#}"),
                    "reconciliation pass failed"
                );
            }
        }
    });
}

/// One pass over the unsettled orders, oldest first. The scan is untraced
/// (it finds nothing most of the time); each order settled is a trace of
/// its own.
async fn pass(state: &AppState) -> anyhow::Result<()> {
    let unsettled = telemetry::db::untraced(db::orders::unsettled(&state.db, STALE_PENDING, BATCH))
        .await
        .context("finding unsettled orders")?;
    for id in unsettled {
        let Some(id) = OrderId::parse(&id) else {
            continue;
        };
        let settled = platform::deadline::within(SETTLEMENT_DEADLINE, settle(state, &id)).await;
        match settled {
            Some(Ok(())) => {}
            Some(Err(error)) => tracing::warn!(
                order.id = id.as_str(),
                exception.message = format!("{error:#}"),
                "settling an order failed; it is tried again next pass"
            ),
            None => tracing::warn!(order.id = id.as_str(), "settling an order timed out"),
        }
    }
    Ok(())
}

/// Settles one order inside `orders.reconcile_payment`, the root of its
/// own trace.
async fn settle(state: &AppState, id: &OrderId) -> anyhow::Result<()> {
    let span = tracing::info_span!(
        parent: None,
        "orders.reconcile_payment",
        otel.kind = "internal",
        order.id = id.as_str(),
        order.status = Empty,
        payment.outcome = Empty,
    );
    async {
        let settlement = state.payments.settle(id).await.context("asking payments")?;
        let span = tracing::Span::current();
        span.record("payment.outcome", settlement.status.as_str());
        match (settlement.status.as_str(), settlement.payment_id) {
            ("approved", Some(payment_id)) => {
                let order = db::orders::find(&state.db, id)
                    .await
                    .context("reading the order")?
                    .context("the order vanished")?;
                ordering::confirm(
                    &state.db,
                    &state.relay,
                    id,
                    &order.customer_id,
                    order.total_cents,
                    &order.currency,
                    &payment_id,
                )
                .await
            }
            ("declined" | "not_charged", _) => ordering::fail(&state.db, id).await,
            (status, _) => {
                tracing::info!(payment.outcome = status, "payment not settled yet");
                Ok(())
            }
        }
    }
    .instrument(span)
    .await
}
