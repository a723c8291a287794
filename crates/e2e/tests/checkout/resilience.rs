//! Slowness and outages: deadlines that travel, answers lost after a
//! charge and settled later, and a database that goes away and comes back.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use e2e::{Service, Span, Suite, SuiteOptions, TcpProxy, TraceTree};

use crate::support::{
    APPROVED_CARD, CONFIRM_ORDER, DECLINED_CARD, Reply, checkout, database, get, one,
    post_checkout, post_checkout_with, product_with_stock, settled_trace, stock,
};

/// How long a test waits for the reconciler (a pass every 300 ms in the
/// suite) to settle an order.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(20);

pub async fn slow_dependency_past_the_deadline_is_504_and_nobody_keeps_working(
    suite: Arc<Suite>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let reply = post_checkout_with(
        &suite,
        &checkout("cus_1001", "sku_mouse", 1, APPROVED_CARD),
        &[
            ("request-timeout-ms", "1500"),
            ("baggage", "fault.users=latency:5000ms"),
        ],
    )
    .await?;
    let elapsed = started.elapsed();

    reply.assert_problem(504, "dependency-timeout");
    assert!(reply.str("detail").contains("users"), "{:#}", reply.body);
    println!("users 5 s slow, caller's budget 1.5 s: 504 after {elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");

    let spans = settled_trace(&suite, &reply.trace_id).await;
    let tree = TraceTree::new(&spans);
    let lookup = one(&tree, Service::Gateway, "GET");
    assert!(lookup.is_error());
    assert_eq!(lookup.str_attr("error.type"), Some("timeout"));
    assert!(lookup.event("exception").is_some(), "{}", tree.render());
    // users got the budget with the request and stopped when it ran out
    // (or when the gateway hung up, whichever came first): neither after
    // its own 3 s limit nor after the 5 s of latency.
    let users = one(&tree, Service::Users, "GET /users/{customer_id}");
    assert!(
        users.duration() < Duration::from_millis(2500),
        "{:?}:\n{}",
        users.duration(),
        tree.render()
    );
    assert!(
        tree.find(Service::Gateway.name(), "POST").is_none(),
        "nothing was ordered:\n{}",
        tree.render()
    );
    Ok(())
}

/// Polls the order through the gateway until it leaves the unsettled
/// states, and returns its final status.
async fn settled_status(suite: &Suite, order_id: &str) -> anyhow::Result<String> {
    let started = Instant::now();
    loop {
        let order = get(suite, &format!("/orders/{order_id}")).await?;
        anyhow::ensure!(order.status == 200, "{:#}", order.body);
        let status = order.str("status").to_owned();
        if !["pending", "payment_unknown"].contains(&status.as_str()) {
            println!(
                "order {order_id} settled as {status} after {:?}",
                started.elapsed()
            );
            return Ok(status);
        }
        anyhow::ensure!(
            started.elapsed() < SETTLE_TIMEOUT,
            "order {order_id} still {status} after {SETTLE_TIMEOUT:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every payment row of the order, as `(status, card_last4)`.
async fn payments_of(suite: &Suite, order_id: &str) -> anyhow::Result<Vec<(String, String)>> {
    let db = database(suite, Service::Payments).await?;
    Ok(
        sqlx::query_as("SELECT status, card_last4 FROM payments WHERE order_id = $1")
            .bind(order_id)
            .fetch_all(&db)
            .await?,
    )
}

/// The trace of the reconciler's settlement of `order_id`.
async fn reconciliation_trace(suite: &Suite, order_id: &str) -> anyhow::Result<Vec<Span>> {
    let started = Instant::now();
    loop {
        let root = suite.receiver().spans().into_iter().find(|span| {
            span.name == "orders.reconcile_payment"
                && span.str_attr("order.id") == Some(order_id)
                && span.str_attr("payment.outcome") != Some("unknown")
        });
        if let Some(root) = root {
            return Ok(settled_trace(suite, &root.trace_id).await);
        }
        anyhow::ensure!(
            started.elapsed() < crate::support::EXPORT_TIMEOUT,
            "no settling reconciliation of {order_id} was exported"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A checkout of `quantity` of `sku` whose call to the card processor
/// meets `fault`, under a 2 s deadline: the payment's attempt ends with
/// the request's deadline, and only then may the reconciler settle it.
async fn checkout_with_processor_fault(
    suite: &Suite,
    customer_id: &str,
    sku: &str,
    quantity: i64,
    card: &str,
    fault: &str,
) -> anyhow::Result<Reply> {
    let baggage = format!("fault.card_processor={fault}");
    post_checkout_with(
        suite,
        &checkout(customer_id, sku, quantity, card),
        &[("request-timeout-ms", "2000"), ("baggage", &baggage)],
    )
    .await
}

pub async fn a_charge_whose_answer_was_lost_is_settled_by_the_reconciler(
    suite: Arc<Suite>,
) -> anyhow::Result<()> {
    let (orders_db, sku) = product_with_stock(&suite, 10).await?;

    // The processor charges the card and never answers.
    let reply =
        checkout_with_processor_fault(&suite, "cus_1001", &sku, 2, APPROVED_CARD, "timeout")
            .await?;

    reply.assert_problem(504, "dependency-timeout");
    assert_eq!(
        reply.str("order_status"),
        "payment_unknown",
        "{:#}",
        reply.body
    );
    let order_id = reply.str("order_id").to_owned();
    let spans = settled_trace(&suite, &reply.trace_id).await;
    let tree = TraceTree::new(&spans);
    let processor_call = one(&tree, Service::Payments, "POST");
    assert_eq!(processor_call.str_attr("error.type"), Some("timeout"));
    assert!(processor_call.event("exception").is_some());
    let create_order = one(&tree, Service::Orders, "orders.create_order");
    assert_eq!(
        create_order.str_attr("order.status"),
        Some("payment_unknown")
    );

    assert_eq!(settled_status(&suite, &order_id).await?, "confirmed");
    assert_eq!(
        payments_of(&suite, &order_id).await?,
        [("approved".to_owned(), "4242".to_owned())],
        "one payment, charged once"
    );
    assert_eq!(stock(&orders_db, &sku).await?, 8, "the stock stays sold");

    let spans = reconciliation_trace(&suite, &order_id).await?;
    let tree = TraceTree::new(&spans);
    let roots = tree.roots();
    assert_eq!(roots.len(), 1, "{}", tree.render());
    assert_eq!(roots[0].name, "orders.reconcile_payment");
    assert_eq!(roots[0].str_attr("payment.outcome"), Some("approved"));
    let settle = one(&tree, Service::Payments, "payments.settle_payment");
    let lookup = one(&tree, Service::Payments, "GET");
    assert_eq!(
        tree.parent(lookup).map(|span| &span.span_id),
        Some(&settle.span_id)
    );
    assert!(
        lookup
            .str_attr("url.full")
            .is_some_and(|url| url.contains("/v1/charges/by-idempotency-key/pay_")),
        "asked with the payment id, the charge's idempotency key:\n{}",
        tree.render()
    );
    one(&tree, Service::Orders, CONFIRM_ORDER);
    one(&tree, Service::Orders, "create orders.confirmed");
    Ok(())
}

pub async fn a_lost_decline_gives_the_stock_back_exactly_once(
    suite: Arc<Suite>,
) -> anyhow::Result<()> {
    let (orders_db, sku) = product_with_stock(&suite, 10).await?;

    let reply =
        checkout_with_processor_fault(&suite, "cus_1002", &sku, 3, DECLINED_CARD, "timeout")
            .await?;

    reply.assert_problem(504, "dependency-timeout");
    let order_id = reply.str("order_id").to_owned();
    assert_eq!(settled_status(&suite, &order_id).await?, "payment_failed");
    assert_eq!(
        stock(&orders_db, &sku).await?,
        10,
        "the stock is given back"
    );
    // Several more reconciler passes, and a settlement asked again: the
    // stock is given back once.
    let settlement = e2e::http_client()
        .post(format!("{}/settlements", suite.url(Service::Payments)))
        .json(&serde_json::json!({"order_id": order_id}))
        .send()
        .await?
        .json::<serde_json::Value>()
        .await?;
    assert_eq!(settlement["status"], "declined", "{settlement:#}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(stock(&orders_db, &sku).await?, 10, "given back once");
    assert_eq!(
        payments_of(&suite, &order_id).await?,
        [("declined".to_owned(), "0002".to_owned())]
    );
    Ok(())
}

pub async fn a_failed_processor_call_is_settled_as_not_charged(
    suite: Arc<Suite>,
) -> anyhow::Result<()> {
    let (orders_db, sku) = product_with_stock(&suite, 10).await?;

    // The processor fails before charging anything; payments cannot know.
    let reply =
        checkout_with_processor_fault(&suite, "cus_1001", &sku, 1, APPROVED_CARD, "error").await?;

    reply.assert_problem(502, "dependency-failed");
    assert_eq!(
        reply.str("order_status"),
        "payment_unknown",
        "{:#}",
        reply.body
    );
    let order_id = reply.str("order_id").to_owned();
    assert_eq!(stock(&orders_db, &sku).await?, 9, "kept until settled");

    assert_eq!(settled_status(&suite, &order_id).await?, "payment_failed");
    assert_eq!(stock(&orders_db, &sku).await?, 10);
    assert_eq!(
        payments_of(&suite, &order_id).await?,
        [("failed".to_owned(), "4242".to_owned())],
        "the processor never heard of it"
    );
    Ok(())
}

async fn readiness(suite: &Suite, service: Service) -> anyhow::Result<u16> {
    let response = e2e::http_client()
        .get(format!("{}/readyz", suite.url(service)))
        .timeout(Duration::from_secs(5))
        .send()
        .await?;
    Ok(response.status().as_u16())
}

/// Polls `/readyz` until it answers `status`; returns how long that took.
async fn until_readiness(suite: &Suite, service: Service, status: u16) -> anyhow::Result<Duration> {
    let started = Instant::now();
    while readiness(suite, service).await? != status {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(30),
            "{service} /readyz never answered {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(started.elapsed())
}

pub async fn database_cut_and_restored_is_survived_without_a_restart(
    _shared: Arc<Suite>,
) -> anyhow::Result<()> {
    // Its own suite, with orders reaching Postgres through a proxy the test
    // cuts: never the machine's shared server.
    let postgres = e2e::suite::POSTGRES_ADDRESS
        .parse()
        .context("the Postgres address")?;
    let proxy = TcpProxy::start(postgres).await?;
    let suite =
        Suite::start(SuiteOptions::default().database_through(Service::Orders, proxy.address()))
            .await?;
    let orders_pid = suite.pid(Service::Orders);
    let body = checkout("cus_1001", "sku_mouse", 1, APPROVED_CARD);
    assert_eq!(post_checkout(&suite, &body).await?.status, 201);

    proxy.cut();
    let not_ready_after = until_readiness(&suite, Service::Orders, 503).await?;
    let started = Instant::now();
    let reply = post_checkout(&suite, &body).await?;
    let failed_after = started.elapsed();
    reply.assert_problem(503, "database-unavailable");
    assert!(
        failed_after < Duration::from_secs(10),
        "answered within the deadline: {failed_after:?}"
    );

    proxy.restore();
    let ready_after = until_readiness(&suite, Service::Orders, 200).await?;
    let started = Instant::now();
    loop {
        let reply = post_checkout(&suite, &body).await?;
        if reply.status == 201 {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(10),
            "no checkout succeeded after Postgres came back: {:#}",
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let serving_after = ready_after + started.elapsed();
    println!(
        "Postgres cut: /readyz 503 after {not_ready_after:?}, a checkout 503 after \
         {failed_after:?}; restored: /readyz 200 after {ready_after:?}, checkouts 201 \
         after {serving_after:?}"
    );
    assert_eq!(suite.pid(Service::Orders), orders_pid, "no restart");
    Ok(())
}
