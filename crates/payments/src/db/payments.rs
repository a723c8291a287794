use telemetry::db::{Database, Statement};

use crate::domain::{Charge, PaymentId};

/// A charge attempt's outcome, as stored.
pub enum Outcome<'a> {
    Approved { processor_charge_id: &'a str },
    Declined { decline_code: &'a str },
}

const INSERT: Statement = Statement::new(
    "INSERT",
    "payments",
    "INSERT INTO payments \
     (id, order_id, amount_cents, currency, card_last4, status, processor_charge_id, decline_code) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
);

pub async fn insert(
    db: &Database,
    id: &PaymentId,
    charge: &Charge,
    outcome: &Outcome<'_>,
) -> sqlx::Result<()> {
    let (status, charge_id, decline_code) = match outcome {
        Outcome::Approved {
            processor_charge_id,
        } => ("approved", Some(*processor_charge_id), None),
        Outcome::Declined { decline_code } => ("declined", None, Some(*decline_code)),
    };
    INSERT
        .query()
        .bind(id.as_str().to_owned())
        .bind(charge.order_id.clone())
        .bind(charge.amount_cents)
        .bind(charge.currency.clone())
        .bind(charge.card.last4().to_owned())
        .bind(status)
        .bind(charge_id.map(str::to_owned))
        .bind(decline_code.map(str::to_owned))
        .execute(db)
        .await?;
    Ok(())
}
