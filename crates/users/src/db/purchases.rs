use telemetry::db::{Database, Statement};

/// Records the event id and, only if it was not recorded before, adds the
/// order to its customer's totals: one statement, so once per event id
/// however often the event is delivered.
const ADD_CONFIRMED_ORDER: Statement = Statement::new(
    "UPDATE",
    "users",
    "WITH first_time AS ( \
         INSERT INTO processed_events (event_id) VALUES ($1) \
         ON CONFLICT (event_id) DO NOTHING RETURNING event_id) \
     UPDATE users SET orders_confirmed = orders_confirmed + 1, \
         lifetime_spend_cents = lifetime_spend_cents + $3 \
     FROM first_time WHERE users.id = $2",
)
.summarized("INSERT processed_events UPDATE users");

/// Adds a confirmed order to its customer's totals, once per event id.
/// Returns whether this call applied it (false: already applied, or the
/// customer is unknown).
pub async fn add_confirmed_order(
    db: &Database,
    event_id: &str,
    customer_id: &str,
    total_cents: i64,
) -> sqlx::Result<bool> {
    let applied = ADD_CONFIRMED_ORDER
        .query()
        .bind(event_id.to_owned())
        .bind(customer_id.to_owned())
        .bind(total_cents)
        .execute(db)
        .await?;
    Ok(applied.rows_affected() == 1)
}
