use telemetry::db::{Database, Statement};

#[derive(Debug, sqlx::FromRow)]
pub struct NotificationRow {
    pub id: String,
    pub status: String,
}

/// Records the notification, or returns the one already recorded for the
/// same order and template: a retried request must not notify twice.
const INSERT: Statement = Statement::new(
    "INSERT",
    "notifications",
    "INSERT INTO notifications (id, order_id, customer_id, template) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (order_id, template) DO UPDATE SET template = EXCLUDED.template \
     RETURNING id, status",
);

pub async fn insert(
    db: &Database,
    id: String,
    order_id: String,
    customer_id: String,
    template: &'static str,
) -> sqlx::Result<NotificationRow> {
    INSERT
        .query_as()
        .bind(id)
        .bind(order_id)
        .bind(customer_id)
        .bind(template)
        .fetch_one(db)
        .await
}
