use telemetry::db::{Database, Statement};

use crate::domain::CustomerId;

#[derive(Debug, sqlx::FromRow)]
pub struct UserRow {
    pub id: String,
    pub name: String,
    pub email: String,
    pub orders_confirmed: i64,
    pub lifetime_spend_cents: i64,
}

const FIND: Statement = Statement::new(
    "SELECT",
    "users",
    "SELECT id, name, email, orders_confirmed, lifetime_spend_cents FROM users WHERE id = $1",
);

pub async fn find(db: &Database, id: &CustomerId) -> sqlx::Result<Option<UserRow>> {
    FIND.query_as()
        .bind(id.as_str().to_owned())
        .fetch_optional(db)
        .await
}
