use telemetry::db::{Database, Statement};

use crate::{
    db::outbox::OutboxEvent,
    domain::{OrderId, OrderLine},
};

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

/// A product as the order found it, locked; `None` where the sku is not
/// in the catalogue.
#[derive(Debug, sqlx::FromRow)]
pub struct ProductRow {
    pub sku: String,
    pub price_cents: Option<i64>,
    pub currency: Option<String>,
    pub stock: Option<i32>,
    /// Whether the order was placed: every sku known, enough stock for
    /// every line, one currency. The same for every row.
    pub placed: bool,
}

/// Places an order in one statement (one round trip, one transaction):
/// locks the ordered products in sku order (two orders for the same
/// products cannot deadlock, and giving stock back locks in the same
/// order), checks them, and only if every line can be served takes the
/// stock and records the order and its lines at the prices just read.
/// Returns every line's product, for the caller to say what was wrong.
///
/// The main `SELECT` reads `priced` (all of `product`, so every lock)
/// before the data-modifying parts run: Postgres runs those to completion
/// after the main query. The `CHECK (stock >= 0)` stays the last defence.
const PLACE: Statement = Statement::new(
    "INSERT",
    "orders",
    "WITH line AS ( \
         SELECT * FROM unnest($3::text[], $4::integer[]) AS line (sku, quantity)), \
     product AS ( \
         SELECT sku, price_cents, currency, stock FROM products \
         WHERE sku = ANY ($3) ORDER BY sku FOR UPDATE), \
     priced AS ( \
         SELECT line.sku, line.quantity, product.price_cents, product.currency, product.stock \
         FROM line LEFT JOIN product USING (sku)), \
     verdict AS ( \
         SELECT count(*) = count(price_cents) AND bool_and(stock >= quantity) \
                AND count(DISTINCT currency) = 1 AS placed, \
                sum(price_cents * quantity) AS total_cents, min(currency) AS currency \
         FROM priced), \
     reserved AS ( \
         UPDATE products SET stock = products.stock - priced.quantity \
         FROM priced, verdict WHERE verdict.placed AND products.sku = priced.sku), \
     new_order AS ( \
         INSERT INTO orders (id, customer_id, status, total_cents, currency) \
         SELECT $1, $2, 'pending', total_cents, currency FROM verdict WHERE placed), \
     new_items AS ( \
         INSERT INTO order_items (order_id, sku, quantity, unit_price_cents) \
         SELECT $1, priced.sku, priced.quantity, priced.price_cents \
         FROM priced, verdict WHERE verdict.placed) \
     SELECT priced.sku, priced.price_cents, priced.currency, priced.stock, verdict.placed \
     FROM priced, verdict",
)
.summarized("SELECT products UPDATE products INSERT orders INSERT order_items");

pub async fn place(
    db: &Database,
    id: &OrderId,
    customer_id: &str,
    lines: &[OrderLine],
) -> sqlx::Result<Vec<ProductRow>> {
    let (skus, quantities): (Vec<String>, Vec<i32>) = lines
        .iter()
        .map(|line| (line.sku.as_str().to_owned(), line.quantity.get()))
        .unzip();
    PLACE
        .query_as()
        .bind(id.as_str().to_owned())
        .bind(customer_id.to_owned())
        .bind(skus)
        .bind(quantities)
        .fetch_all(db)
        .await
}

/// Confirms an order whose payment was not settled yet and writes its
/// event to the outbox, in one statement: the event exists if and only if
/// this made the change (the checkout and the reconciler may both try).
const CONFIRM: Statement = Statement::new(
    "UPDATE",
    "orders",
    "WITH confirmed AS ( \
         UPDATE orders SET status = 'confirmed', payment_id = $2, updated_at = now() \
         WHERE id = $1 AND status IN ('pending', 'payment_unknown') RETURNING id) \
     INSERT INTO outbox (event_id, subject, payload, traceparent, tracestate, baggage) \
     SELECT $3, $4, $5, $6, $7, $8 FROM confirmed",
)
.summarized("UPDATE orders INSERT outbox");

/// Returns whether the order was confirmed (and its event written) by
/// this call.
pub async fn confirm(
    db: &Database,
    id: &OrderId,
    payment_id: &str,
    event: OutboxEvent,
) -> sqlx::Result<bool> {
    let result = CONFIRM
        .query()
        .bind(id.as_str().to_owned())
        .bind(payment_id.to_owned())
        .bind(event.event_id)
        .bind(event.subject)
        .bind(event.payload)
        .bind(event.creation.traceparent)
        .bind(event.creation.tracestate)
        .bind(event.creation.baggage)
        .execute(db)
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

/// Marks an unsettled order `payment_failed` and puts back the stock it
/// took, in one statement, only if this made the change: the checkout and
/// the reconciler may both try, and the stock comes back exactly once.
/// The products are locked in sku order, the order placing locks them in
/// (an `UPDATE ... FROM` alone locks in whatever order its plan visits
/// them, and two baskets with the same products deadlocked that way).
const FAIL_PAYMENT: Statement = Statement::new(
    "UPDATE",
    "orders",
    "WITH failed AS ( \
         UPDATE orders SET status = 'payment_failed', updated_at = now() \
         WHERE id = $1 AND status IN ('pending', 'payment_unknown') RETURNING id), \
     taken AS ( \
         SELECT products.sku, item.quantity FROM products \
         JOIN order_items AS item ON item.sku = products.sku \
         JOIN failed ON failed.id = item.order_id \
         ORDER BY products.sku FOR UPDATE OF products) \
     UPDATE products SET stock = products.stock + taken.quantity \
     FROM taken WHERE products.sku = taken.sku",
)
.summarized("UPDATE orders SELECT products UPDATE products");

pub async fn fail_payment(db: &Database, id: &OrderId) -> sqlx::Result<()> {
    FAIL_PAYMENT
        .query()
        .bind(id.as_str().to_owned())
        .execute(db)
        .await?;
    Ok(())
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
