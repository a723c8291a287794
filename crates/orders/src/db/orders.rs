use telemetry::db::{Database, Statement, Transaction};

use crate::domain::{OrderId, OrderLine};

#[derive(Debug, sqlx::FromRow)]
pub struct OrderRow {
    pub id: String,
    pub customer_id: String,
    pub status: String,
    pub total_cents: i64,
    pub currency: String,
    pub payment_id: Option<String>,
}

#[derive(Debug, sqlx::FromRow)]
pub struct ItemRow {
    pub sku: String,
    pub quantity: i32,
    pub unit_price_cents: i64,
}

/// A line with the price it was sold at.
pub struct PricedLine<'a> {
    pub line: &'a OrderLine,
    pub unit_price_cents: i64,
}

const INSERT: Statement = Statement::new(
    "INSERT",
    "orders",
    "INSERT INTO orders (id, customer_id, status, total_cents, currency) \
     VALUES ($1, $2, 'pending', $3, $4)",
);

pub async fn insert(
    tx: &mut Transaction,
    id: &OrderId,
    customer_id: &str,
    total_cents: i64,
    currency: &str,
) -> sqlx::Result<()> {
    INSERT
        .query()
        .bind(id.as_str().to_owned())
        .bind(customer_id.to_owned())
        .bind(total_cents)
        .bind(currency.to_owned())
        .execute(tx)
        .await?;
    Ok(())
}

const INSERT_ITEMS: Statement = Statement::new(
    "INSERT",
    "order_items",
    "INSERT INTO order_items (order_id, sku, quantity, unit_price_cents) \
     SELECT $1, * FROM unnest($2::text[], $3::integer[], $4::bigint[])",
);

pub async fn insert_items(
    tx: &mut Transaction,
    id: &OrderId,
    lines: &[PricedLine<'_>],
) -> sqlx::Result<()> {
    let skus: Vec<String> = lines
        .iter()
        .map(|priced| priced.line.sku.as_str().to_owned())
        .collect();
    let quantities: Vec<i32> = lines
        .iter()
        .map(|priced| priced.line.quantity.get())
        .collect();
    let prices: Vec<i64> = lines.iter().map(|priced| priced.unit_price_cents).collect();
    INSERT_ITEMS
        .query()
        .bind(id.as_str().to_owned())
        .bind(skus)
        .bind(quantities)
        .bind(prices)
        .execute(tx)
        .await?;
    Ok(())
}

/// Confirms an order whose payment was not settled yet. Returns whether it
/// did: the checkout and the reconciler may both try, and only the one that
/// made the change records the event.
const CONFIRM: Statement = Statement::new(
    "UPDATE",
    "orders",
    "UPDATE orders SET status = 'confirmed', payment_id = $2, updated_at = now() \
     WHERE id = $1 AND status IN ('pending', 'payment_unknown')",
);

pub async fn confirm(tx: &mut Transaction, id: &OrderId, payment_id: &str) -> sqlx::Result<bool> {
    let result = CONFIRM
        .query()
        .bind(id.as_str().to_owned())
        .bind(payment_id.to_owned())
        .execute(tx)
        .await?;
    Ok(result.rows_affected() == 1)
}

const MARK_PAYMENT_UNKNOWN: Statement = Statement::new(
    "UPDATE",
    "orders",
    "UPDATE orders SET status = 'payment_unknown', updated_at = now() \
     WHERE id = $1 AND status = 'pending'",
);

/// The charge was sent and its answer lost: the reconciler settles it.
pub async fn mark_payment_unknown(db: &Database, id: &OrderId) -> sqlx::Result<()> {
    MARK_PAYMENT_UNKNOWN
        .query()
        .bind(id.as_str().to_owned())
        .execute(db)
        .await?;
    Ok(())
}

/// Marks an unsettled order `payment_failed`. Returns whether it did: only
/// the caller that made the change may give the stock back, so it is given
/// back exactly once.
const FAIL_PAYMENT: Statement = Statement::new(
    "UPDATE",
    "orders",
    "UPDATE orders SET status = 'payment_failed', updated_at = now() \
     WHERE id = $1 AND status IN ('pending', 'payment_unknown')",
);

pub async fn fail_payment(tx: &mut Transaction, id: &OrderId) -> sqlx::Result<bool> {
    let result = FAIL_PAYMENT
        .query()
        .bind(id.as_str().to_owned())
        .execute(tx)
        .await?;
    Ok(result.rows_affected() == 1)
}

const FIND: Statement = Statement::new(
    "SELECT",
    "orders",
    "SELECT id, customer_id, status, total_cents, currency, payment_id FROM orders WHERE id = $1",
);

pub async fn find(db: &Database, id: &OrderId) -> sqlx::Result<Option<OrderRow>> {
    FIND.query_as()
        .bind(id.as_str().to_owned())
        .fetch_optional(db)
        .await
}

const ITEMS: Statement = Statement::new(
    "SELECT",
    "order_items",
    "SELECT sku, quantity, unit_price_cents FROM order_items WHERE order_id = $1 ORDER BY sku",
);

pub async fn items(db: &Database, id: &OrderId) -> sqlx::Result<Vec<ItemRow>> {
    ITEMS
        .query_as()
        .bind(id.as_str().to_owned())
        .fetch_all(db)
        .await
}

const UNSETTLED: Statement = Statement::new(
    "SELECT",
    "orders",
    "SELECT id FROM orders \
     WHERE status = 'payment_unknown' \
        OR (status = 'pending' AND updated_at < now() - $1 * interval '1 millisecond') \
     ORDER BY updated_at LIMIT $2",
);

/// Orders whose payment outcome nobody knows, oldest first: those marked
/// `payment_unknown`, and those left `pending` for longer than
/// `pending_for` (a checkout cut short by a crash or a deadline).
pub async fn unsettled(
    db: &Database,
    pending_for: std::time::Duration,
    limit: i64,
) -> sqlx::Result<Vec<String>> {
    UNSETTLED
        .query_as::<(String,)>()
        .bind(f64::from(
            u32::try_from(pending_for.as_millis()).unwrap_or(u32::MAX),
        ))
        .bind(limit)
        .fetch_all(db)
        .await
        .map(|rows| rows.into_iter().map(|(id,)| id).collect())
}
