use telemetry::db::{Database, Statement};

/// Records the event id; no row comes back if it was already recorded.
const RECORD_EVENT: Statement = Statement::new(
    "INSERT",
    "processed_events",
    "INSERT INTO processed_events (event_id) VALUES ($1) ON CONFLICT (event_id) DO NOTHING",
);

const ADD_PURCHASE: Statement = Statement::new(
    "UPDATE",
    "users",
    "UPDATE users SET orders_confirmed = orders_confirmed + 1, \
     lifetime_spend_cents = lifetime_spend_cents + $2 WHERE id = $1",
);

/// Adds a confirmed order to its customer's totals, once per event id.
/// Returns whether this call applied it (false: already applied).
pub async fn add_confirmed_order(
    db: &Database,
    event_id: &str,
    customer_id: &str,
    total_cents: i64,
) -> sqlx::Result<bool> {
    let mut tx = db.begin().await?;
    let first_time = RECORD_EVENT
        .query()
        .bind(event_id.to_owned())
        .execute(&mut tx)
        .await?
        .rows_affected()
        == 1;
    if first_time {
        ADD_PURCHASE
            .query()
            .bind(customer_id.to_owned())
            .bind(total_cents)
            .execute(&mut tx)
            .await?;
    }
    tx.commit().await?;
    Ok(first_time)
}
