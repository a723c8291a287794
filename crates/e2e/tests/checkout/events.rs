//! The asynchronous hop: `orders.confirmed` through the outbox and NATS
//! JetStream to `users`, in the checkout's trace, counted once, and never
//! in a checkout's way.

use std::{sync::Arc, time::Duration};

use e2e::{Service, SpanKind, Suite, SuiteOptions, TraceTree};
use serde_json::json;

use crate::support::{
    APPROVED_CARD, CONFIRM_ORDER, CONFIRMED_CHECKOUT_SPANS, COUNT_EVENT, EXPORT_TIMEOUT,
    assert_child_of, checkout, database, get_json, one, post_checkout, post_checkout_with,
    trace_with,
};

/// `orders_confirmed` and `lifetime_spend_cents` of a customer, from users.
async fn totals(suite: &Suite, customer: &str) -> anyhow::Result<(i64, i64)> {
    let user = get_json(&format!("{}/users/{customer}", suite.url(Service::Users))).await?;
    Ok((
        user["orders_confirmed"].as_i64().unwrap_or(-1),
        user["lifetime_spend_cents"].as_i64().unwrap_or(-1),
    ))
}

/// Waits until the customer's totals are `expected`, and returns the last seen.
async fn totals_become(
    suite: &Suite,
    customer: &str,
    expected: (i64, i64),
) -> anyhow::Result<(i64, i64)> {
    let deadline = tokio::time::Instant::now() + EXPORT_TIMEOUT;
    loop {
        let seen = totals(suite, customer).await?;
        if seen == expected || tokio::time::Instant::now() > deadline {
            return Ok(seen);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn confirmed_order_event_joins_the_checkout_trace(
    suite: Arc<Suite>,
) -> anyhow::Result<()> {
    let reply = post_checkout(&suite, &checkout("cus_1001", "sku_mouse", 1, APPROVED_CARD)).await?;
    assert_eq!(reply.status, 201, "{:#}", reply.body);
    let spans = trace_with(&suite, &reply.trace_id, CONFIRMED_CHECKOUT_SPANS).await;
    let tree = TraceTree::new(&spans);

    let create_order = one(&tree, Service::Orders, "orders.create_order");
    let create = one(&tree, Service::Orders, "create orders.confirmed");
    assert_child_of(&tree, create, create_order, SpanKind::Producer);
    assert_child_of(
        &tree,
        one(&tree, Service::Orders, CONFIRM_ORDER),
        create,
        SpanKind::Client,
    );
    let send = one(&tree, Service::Orders, "send orders.confirmed");
    assert_child_of(&tree, send, create, SpanKind::Client);
    assert_child_of(
        &tree,
        one(&tree, Service::Orders, "UPDATE outbox"),
        send,
        SpanKind::Client,
    );
    let process = one(&tree, Service::Users, "process orders.confirmed");
    assert_child_of(&tree, process, create, SpanKind::Consumer);
    assert!(
        process
            .links
            .iter()
            .any(|link| link.span_id == create.span_id && link.trace_id == create.trace_id),
        "process links to the creation context:\n{}",
        tree.render()
    );
    assert_child_of(
        &tree,
        one(&tree, Service::Users, COUNT_EVENT),
        process,
        SpanKind::Client,
    );

    let event_id = create
        .str_attr("messaging.message.id")
        .unwrap_or_default()
        .to_owned();
    assert!(event_id.starts_with("evt_"), "{create}");
    for (span, operation) in [(create, "create"), (send, "send"), (process, "process")] {
        assert_eq!(span.str_attr("messaging.system"), Some("nats"), "{span}");
        assert_eq!(
            span.str_attr("messaging.operation.type"),
            Some(operation),
            "{span}"
        );
        assert_eq!(
            span.str_attr("messaging.operation.name"),
            Some(operation),
            "{span}"
        );
        assert_eq!(
            span.str_attr("messaging.destination.name"),
            Some("orders.confirmed"),
            "{span}"
        );
        assert_eq!(
            span.str_attr("messaging.message.id"),
            Some(event_id.as_str()),
            "{span}"
        );
    }
    for span in [send, process] {
        assert_eq!(span.str_attr("server.address"), Some("127.0.0.1"), "{span}");
        assert!(span.int_attr("server.port").is_some(), "{span}");
    }
    assert_eq!(
        process.str_attr("messaging.consumer.group.name"),
        Some("users")
    );
    Ok(())
}

/// What a user sees in Tempo's "recent traces": one checkout is one trace,
/// the relay's passes add none, and an unsampled checkout's event is
/// unsampled all the way through the consumer.
pub async fn one_checkout_is_one_trace_and_an_unsampled_one_exports_nothing(
    _shared: Arc<Suite>,
) -> anyhow::Result<()> {
    // Its own suite: the shared one's receiver holds every other test's
    // traces. Progress is read from users' database, not its API, which
    // would make traces of its own.
    let suite = Suite::start(SuiteOptions::default()).await?;
    let users = database(&suite, Service::Users).await?;
    let body = checkout("cus_1001", "sku_mouse", 1, APPROVED_CARD);

    let sampled = post_checkout(&suite, &body).await?;
    assert_eq!(sampled.status, 201, "{:#}", sampled.body);
    assert_eq!(events_processed_become(&users, 1).await?, 1);

    let unsampled_parent = format!("00-{:032x}-00f067aa0ba902b7-00", 0x5eed_u128);
    let unsampled =
        post_checkout_with(&suite, &body, &[("traceparent", &unsampled_parent)]).await?;
    assert_eq!(unsampled.status, 201, "{:#}", unsampled.body);
    assert_eq!(
        events_processed_become(&users, 2).await?,
        2,
        "the unsampled checkout's event was processed too"
    );

    // Several batch intervals, for anything still to be exported.
    trace_with(&suite, &sampled.trace_id, CONFIRMED_CHECKOUT_SPANS).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let spans = suite.receiver().spans();
    let others: Vec<String> = spans
        .iter()
        .filter(|span| span.trace_id != sampled.trace_id)
        .map(|span| {
            format!(
                "{} {} {} (trace {})",
                span.service, span.name, span.kind, span.trace_id
            )
        })
        .collect();
    assert!(
        others.is_empty(),
        "only the sampled checkout's trace is exported, yet also:\n{}",
        others.join("\n")
    );
    Ok(())
}

/// Waits until users has processed `expected` events, and returns the last count seen.
async fn events_processed_become(users: &sqlx::PgPool, expected: i64) -> anyhow::Result<i64> {
    let deadline = tokio::time::Instant::now() + EXPORT_TIMEOUT;
    loop {
        let seen: i64 = sqlx::query_scalar("SELECT count(*) FROM processed_events")
            .fetch_one(users)
            .await?;
        if seen == expected || tokio::time::Instant::now() > deadline {
            return Ok(seen);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn each_event_counts_once_and_a_poison_message_is_set_aside(
    suite: Arc<Suite>,
) -> anyhow::Result<()> {
    // cus_1002 has no other confirmed checkouts in this binary.
    let before = totals(&suite, "cus_1002").await?;
    let reply = post_checkout(
        &suite,
        &checkout("cus_1002", "sku_keyboard", 1, APPROVED_CARD),
    )
    .await?;
    assert_eq!(reply.status, 201, "{:#}", reply.body);
    let after = (before.0 + 1, before.1 + 8900);
    assert_eq!(
        totals_become(&suite, "cus_1002", after).await?,
        after,
        "the event reached users"
    );

    let nats = async_nats::connect(suite.nats().url()).await?;
    let jetstream = async_nats::jetstream::new(nats);
    // The same event again, as a redelivery or a second relay would send
    // it (a new message id, so JetStream itself does not drop it).
    let duplicate = json!({"event_id": "evt_e2e_duplicate", "order_id": "ord_x", "customer_id": "cus_1002",
                           "total_cents": 100, "currency": "EUR", "occurred_at": "2026-11-24T00:00:00Z"});
    for message_id in ["dup-1", "dup-2"] {
        publish(&jetstream, message_id, duplicate.to_string()).await?;
    }
    // A body nobody can read, then a good event behind it.
    publish(&jetstream, "poison-1", "{not json".to_owned()).await?;
    let good = json!({"event_id": "evt_e2e_after_poison", "order_id": "ord_y", "customer_id": "cus_1002",
                      "total_cents": 1, "currency": "EUR", "occurred_at": "2026-11-24T00:00:00Z"});
    publish(&jetstream, "good-1", good.to_string()).await?;

    let expected = (after.0 + 2, after.1 + 100 + 1);
    assert_eq!(
        totals_become(&suite, "cus_1002", expected).await?,
        expected,
        "the duplicate counted once, and the poison message blocked nothing"
    );
    let terminated = suite
        .stdout(Service::Users)
        .iter()
        .any(|line| line.contains("unreadable orders.confirmed message terminated"));
    assert!(terminated, "the poison message is logged and terminated");
    Ok(())
}

async fn publish(
    jetstream: &async_nats::jetstream::Context,
    message_id: &str,
    body: String,
) -> anyhow::Result<()> {
    let message = async_nats::jetstream::message::PublishMessage::build()
        .message_id(message_id)
        .payload(body.into());
    jetstream
        .send_publish("orders.confirmed", message)
        .await?
        .await?;
    Ok(())
}

pub async fn nats_outage_never_fails_a_checkout_and_events_follow_when_it_returns(
    _shared: Arc<Suite>,
) -> anyhow::Result<()> {
    const CHECKOUTS: usize = 20;
    let suite = Suite::start(SuiteOptions::default()).await?;
    let before = totals(&suite, "cus_1001").await?;
    let (up, _) = checkouts(&suite, CHECKOUTS).await?;
    let before = (before.0 + 20, before.1 + 20 * 2900);
    assert_eq!(totals_become(&suite, "cus_1001", before).await?, before);

    suite.nats().stop()?;
    let (down, trace_ids) = checkouts(&suite, CHECKOUTS).await?;
    assert!(
        down[CHECKOUTS - 1] < Duration::from_secs(2),
        "NATS being down slowed a checkout: {:?}",
        down[CHECKOUTS - 1]
    );
    assert_eq!(
        totals(&suite, "cus_1001").await?,
        before,
        "nothing arrives while NATS is down"
    );

    let restarted = std::time::Instant::now();
    suite.nats().restart()?;
    let expected = (before.0 + 20, before.1 + 20 * 2900);
    // The relay backs off up to 30 s between tries.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(45);
    let mut seen = totals(&suite, "cus_1001").await?;
    while seen != expected && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        seen = totals(&suite, "cus_1001").await?;
    }
    let drained = restarted.elapsed();
    assert_eq!(
        seen, expected,
        "every event waited in the outbox and counted once"
    );
    for trace_id in &trace_ids {
        let spans = trace_with(&suite, trace_id, CONFIRMED_CHECKOUT_SPANS).await;
        let tree = TraceTree::new(&spans);
        assert!(
            tree.find("users", "process orders.confirmed").is_some(),
            "each event is processed in its original trace:\n{}",
            tree.render()
        );
    }
    // Numbers for the record, not assertions: this machine's noise is large.
    eprintln!(
        "checkout p50/max with NATS up {:?}/{:?}, down {:?}/{:?}; backlog of {CHECKOUTS} drained {drained:?} after NATS returned",
        up[CHECKOUTS / 2],
        up[CHECKOUTS - 1],
        down[CHECKOUTS / 2],
        down[CHECKOUTS - 1]
    );
    Ok(())
}

/// `count` confirmed checkouts in a row: their sorted latencies and their
/// trace ids.
async fn checkouts(suite: &Suite, count: usize) -> anyhow::Result<(Vec<Duration>, Vec<String>)> {
    let mut latencies = Vec::with_capacity(count);
    let mut trace_ids = Vec::with_capacity(count);
    for _ in 0..count {
        let started = std::time::Instant::now();
        let reply =
            post_checkout(suite, &checkout("cus_1001", "sku_mouse", 1, APPROVED_CARD)).await?;
        latencies.push(started.elapsed());
        assert_eq!(reply.status, 201, "{:#}", reply.body);
        trace_ids.push(reply.trace_id);
    }
    latencies.sort();
    Ok((latencies, trace_ids))
}

pub async fn services_start_and_serve_with_nats_absent(_shared: Arc<Suite>) -> anyhow::Result<()> {
    // A port nothing listens on: NATS is not there at start.
    let absent = e2e::BrokenCollector::start(e2e::Failure::Refusing)?;
    let nats_url = absent.endpoint().replace("http://", "nats://");
    let options = SuiteOptions::default()
        .service_env(Service::Orders, "NATS_URL", nats_url.clone())
        .service_env(Service::Users, "NATS_URL", nats_url);
    let suite = Suite::start(options).await?;

    for service in [Service::Orders, Service::Users] {
        let ready = e2e::http_client()
            .get(format!("{}/readyz", suite.url(service)))
            .send()
            .await?;
        assert_eq!(ready.status(), 200, "{service} is ready without NATS");
    }
    let reply = post_checkout(&suite, &checkout("cus_1001", "sku_mouse", 1, APPROVED_CARD)).await?;
    assert_eq!(reply.status, 201, "{:#}", reply.body);
    Ok(())
}
