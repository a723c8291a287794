use telemetry::db::{Statement, Transaction};

use crate::domain::{OrderId, OrderLine, Sku};

#[derive(Debug, sqlx::FromRow)]
pub struct ProductRow {
    pub sku: String,
    pub price_cents: i64,
    pub currency: String,
    pub stock: i32,
}

/// Locks the ordered products' rows until the transaction ends, in sku
/// order so that two orders for the same products cannot deadlock.
const LOCK: Statement = Statement::new(
    "SELECT",
    "products",
    "SELECT sku, price_cents, currency, stock FROM products \
     WHERE sku = ANY($1) ORDER BY sku FOR UPDATE",
);

pub async fn lock(tx: &mut Transaction, skus: &[Sku]) -> sqlx::Result<Vec<ProductRow>> {
    let skus: Vec<String> = skus.iter().map(|sku| sku.as_str().to_owned()).collect();
    LOCK.query_as().bind(skus).fetch_all(tx).await
}

/// Takes every line's quantity out of stock, in one statement.
const RESERVE: Statement = Statement::new(
    "UPDATE",
    "products",
    "UPDATE products SET stock = products.stock - line.quantity \
     FROM unnest($1::text[], $2::integer[]) AS line(sku, quantity) \
     WHERE products.sku = line.sku",
);

/// Locks the products of an order's stored lines in sku order, the order
/// [`LOCK`] takes them in: two transactions that lock in different orders
/// can deadlock (two baskets with the same two products, one reserving and
/// one giving back).
const LOCK_ORDERED: Statement = Statement::new(
    "SELECT",
    "products",
    "SELECT products.sku FROM products JOIN order_items AS item ON item.sku = products.sku \
     WHERE item.order_id = $1 ORDER BY products.sku FOR UPDATE OF products",
);

/// Puts back what an order took, from its stored lines: the payment failed.
/// An `UPDATE ... FROM` locks rows in whatever order its plan visits them,
/// so the rows are locked in sku order first.
const RELEASE: Statement = Statement::new(
    "UPDATE",
    "products",
    "UPDATE products SET stock = products.stock + item.quantity \
     FROM order_items AS item \
     WHERE item.order_id = $1 AND products.sku = item.sku",
);

pub async fn release(tx: &mut Transaction, order_id: &OrderId) -> sqlx::Result<()> {
    LOCK_ORDERED
        .query()
        .bind(order_id.as_str().to_owned())
        .execute(&mut *tx)
        .await?;
    RELEASE
        .query()
        .bind(order_id.as_str().to_owned())
        .execute(tx)
        .await?;
    Ok(())
}

pub async fn reserve(tx: &mut Transaction, lines: &[OrderLine]) -> sqlx::Result<()> {
    let (skus, quantities): (Vec<String>, Vec<i32>) = lines
        .iter()
        .map(|line| (line.sku.as_str().to_owned(), line.quantity.get()))
        .unzip();
    RESERVE
        .query()
        .bind(skus)
        .bind(quantities)
        .execute(tx)
        .await?;
    Ok(())
}
