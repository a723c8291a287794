use std::time::Duration;

use telemetry::db::{Database, Statement};

use crate::domain::{Charge, PaymentId};

/// What the processor made of a charge, as stored.
pub enum Outcome<'a> {
    Approved {
        processor_charge_id: &'a str,
    },
    Declined {
        decline_code: &'a str,
    },
    /// The processor was never reached: nothing was charged.
    Failed,
}

/// A stored payment, as a reconciliation reads it.
#[derive(Debug, sqlx::FromRow)]
pub struct PaymentRow {
    pub id: String,
    pub status: String,
    /// Whether the attempt's deadline has passed: its call to the
    /// processor, if any, is over.
    pub attempt_over: bool,
}

const INSERT_PENDING: Statement = Statement::new(
    "INSERT",
    "payments",
    "INSERT INTO payments \
     (id, order_id, amount_cents, currency, card_last4, status, attempt_deadline) \
     VALUES ($1, $2, $3, $4, $5, 'pending', now() + $6 * interval '1 millisecond')",
);

/// Records the attempt before the processor is called, so that a charge
/// whose answer is lost is still on record; `deadline` is how long the
/// attempt may go on.
pub async fn insert_pending(
    db: &Database,
    id: &PaymentId,
    charge: &Charge,
    deadline: Duration,
) -> sqlx::Result<()> {
    INSERT_PENDING
        .query()
        .bind(id.as_str().to_owned())
        .bind(charge.order_id.clone())
        .bind(charge.amount_cents)
        .bind(charge.currency.clone())
        .bind(charge.card.last4().to_owned())
        .bind(f64::from(
            u32::try_from(deadline.as_millis()).unwrap_or(u32::MAX),
        ))
        .execute(db)
        .await?;
    Ok(())
}

const SETTLE: Statement = Statement::new(
    "UPDATE",
    "payments",
    "UPDATE payments \
     SET status = $2, processor_charge_id = $3, decline_code = $4, settled_at = now() \
     WHERE id = $1 AND status = 'pending'",
);

/// Stores the outcome of a pending payment. Settling twice changes nothing.
pub async fn settle(db: &Database, id: &str, outcome: &Outcome<'_>) -> sqlx::Result<()> {
    let (status, charge_id, decline_code) = match outcome {
        Outcome::Approved {
            processor_charge_id,
        } => ("approved", Some(*processor_charge_id), None),
        Outcome::Declined { decline_code } => ("declined", None, Some(*decline_code)),
        Outcome::Failed => ("failed", None, None),
    };
    SETTLE
        .query()
        .bind(id.to_owned())
        .bind(status)
        .bind(charge_id.map(str::to_owned))
        .bind(decline_code.map(str::to_owned))
        .execute(db)
        .await?;
    Ok(())
}

const FIND_BY_ORDER: Statement = Statement::new(
    "SELECT",
    "payments",
    "SELECT id, status, attempt_deadline IS NULL OR attempt_deadline < now() AS attempt_over \
     FROM payments WHERE order_id = $1 ORDER BY created_at DESC LIMIT 1",
);

/// The latest payment of an order, if any was ever attempted.
pub async fn find_by_order(db: &Database, order_id: &str) -> sqlx::Result<Option<PaymentRow>> {
    FIND_BY_ORDER
        .query_as()
        .bind(order_id.to_owned())
        .fetch_optional(db)
        .await
}
