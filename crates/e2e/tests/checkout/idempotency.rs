//! `Idempotency-Key`: the same key and body give the first answer again and
//! charge once, however many arrive at once; another body is refused.

use std::{collections::BTreeSet, sync::Arc};

use e2e::{Service, Suite};
use sqlx::PgPool;
use tokio::task::JoinSet;

use crate::support::{APPROVED_CARD, DECLINED_CARD, checkout, post_checkout_with};

/// A key no other test (or run) uses.
fn key(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    format!("e2e-{name}-{}-{nanos}", std::process::id())
}

async fn payments_for(suite: &Suite, order_id: &str) -> anyhow::Result<i64> {
    let url = suite
        .database_url(Service::Payments)
        .ok_or_else(|| anyhow::anyhow!("no payments database"))?;
    let db = PgPool::connect(&url).await?;
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM payments WHERE order_id = $1")
            .bind(order_id)
            .fetch_one(&db)
            .await?,
    )
}

pub async fn fifty_concurrent_retries_place_one_order_and_charge_once(
    suite: Arc<Suite>,
) -> anyhow::Result<()> {
    let key = key("fifty");
    let body = checkout("cus_1001", "sku_keyboard", 1, APPROVED_CARD);
    let mut requests = JoinSet::new();
    for _ in 0..50 {
        let (suite, key, body) = (Arc::clone(&suite), key.clone(), body.clone());
        requests.spawn(async move {
            post_checkout_with(&suite, &body, &[("idempotency-key", &key)]).await
        });
    }
    let mut order_ids = BTreeSet::new();
    while let Some(reply) = requests.join_next().await {
        let reply = reply??;
        assert_eq!(
            reply.status, 201,
            "every retry gets the first answer: {:#}",
            reply.body
        );
        order_ids.insert(reply.str("order_id").to_owned());
    }
    assert_eq!(order_ids.len(), 1, "one order for one key: {order_ids:?}");
    let order_id = order_ids.into_iter().next().unwrap_or_default();
    assert_eq!(payments_for(&suite, &order_id).await?, 1, "charged once");
    Ok(())
}

pub async fn a_declined_checkout_replays_its_402_and_charges_once(
    suite: Arc<Suite>,
) -> anyhow::Result<()> {
    let key = key("declined");
    let body = checkout("cus_1002", "sku_mouse", 1, DECLINED_CARD);
    let first = post_checkout_with(&suite, &body, &[("idempotency-key", &key)]).await?;
    let again = post_checkout_with(&suite, &body, &[("idempotency-key", &key)]).await?;
    first.assert_problem(402, "card-declined");
    again.assert_problem(402, "card-declined");
    assert_eq!(
        first.str("order_id"),
        again.str("order_id"),
        "the same kept order"
    );
    assert_eq!(
        payments_for(&suite, first.str("order_id")).await?,
        1,
        "one charge attempt"
    );
    Ok(())
}

pub async fn the_same_key_with_another_body_is_409_and_changes_nothing(
    suite: Arc<Suite>,
) -> anyhow::Result<()> {
    let key = key("other-body");
    let first = post_checkout_with(
        &suite,
        &checkout("cus_1001", "sku_mouse", 1, APPROVED_CARD),
        &[("idempotency-key", &key)],
    )
    .await?;
    assert_eq!(first.status, 201, "{:#}", first.body);

    let other = post_checkout_with(
        &suite,
        &checkout("cus_1001", "sku_mouse", 2, APPROVED_CARD),
        &[("idempotency-key", &key)],
    )
    .await?;
    other.assert_problem(409, "idempotency-key-reused");
    assert!(
        other.body.get("order_id").is_none(),
        "no order was placed: {:#}",
        other.body
    );

    let again = post_checkout_with(
        &suite,
        &checkout("cus_1001", "sku_mouse", 1, APPROVED_CARD),
        &[("idempotency-key", &key)],
    )
    .await?;
    assert_eq!(
        again.str("order_id"),
        first.str("order_id"),
        "the key still answers its first request"
    );
    Ok(())
}
