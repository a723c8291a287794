//! The trace of a confirmed checkout, as the contract draws it.

use std::sync::Arc;

use e2e::{Service, Span, SpanKind, Suite, TraceTree};
use serde_json::json;

use crate::support::{
    APPROVED_CARD, CONFIRM_ORDER, CONFIRMED_CHECKOUT_SPANS, PLACE_ORDER, Reply, assert_child_of,
    caller_of, one, post_checkout, trace_with,
};

/// A confirmed checkout of one keyboard and two mice, and its whole trace.
async fn confirmed_checkout(suite: &Suite) -> anyhow::Result<(Reply, Vec<Span>)> {
    let body = json!({
        "customer_id": "cus_1001",
        "items": [{"sku": "sku_keyboard", "quantity": 1}, {"sku": "sku_mouse", "quantity": 2}],
        "card": {"number": APPROVED_CARD, "exp_month": 12, "exp_year": 2030, "cvc": "123"},
    });
    let reply = post_checkout(suite, &body).await?;
    assert_eq!(reply.status, 201, "{:#}", reply.body);
    let spans = trace_with(suite, &reply.trace_id, CONFIRMED_CHECKOUT_SPANS).await;
    Ok((reply, spans))
}

pub async fn confirmed_checkout_is_one_trace_with_the_contract_shape(
    suite: Arc<Suite>,
) -> anyhow::Result<()> {
    let (reply, spans) = confirmed_checkout(&suite).await?;
    assert_eq!(reply.str("status"), "confirmed");
    assert_eq!(reply.body["total_cents"], 8900 + 2 * 2900);
    assert_eq!(reply.str("currency"), "EUR");
    assert!(reply.str("order_id").starts_with("ord_"));

    let tree = TraceTree::new(&spans);
    assert_eq!(spans.len(), CONFIRMED_CHECKOUT_SPANS, "{}", tree.render());
    let roots = tree.roots();
    assert_eq!(roots.len(), 1, "one root:\n{}", tree.render());
    let root = one(&tree, Service::Gateway, "POST /checkout");
    assert_eq!(
        root.span_id, roots[0].span_id,
        "the root is the gateway's server span"
    );
    assert_eq!(root.kind, SpanKind::Server);
    assert_eq!(root.span_id, reply.span_id, "traceresponse names the root");

    // gateway → users
    let users = one(&tree, Service::Users, "GET /users/{customer_id}");
    assert_child_of(
        &tree,
        caller_of(&tree, users, Service::Gateway, "GET"),
        root,
        SpanKind::Client,
    );
    assert_child_of(
        &tree,
        one(&tree, Service::Users, "SELECT users"),
        users,
        SpanKind::Client,
    );

    // gateway → orders → payments → card processor
    let orders = one(&tree, Service::Orders, "POST /orders");
    assert_child_of(
        &tree,
        caller_of(&tree, orders, Service::Gateway, "POST"),
        root,
        SpanKind::Client,
    );
    let create_order = one(&tree, Service::Orders, "orders.create_order");
    assert_child_of(&tree, create_order, orders, SpanKind::Internal);
    // Placing the order is one statement, named after its summary (its
    // attributes: `every_database_owner_traces_its_queries`); the
    // confirmation (with the event) is under the event's `create` span.
    let place = one(&tree, Service::Orders, PLACE_ORDER);
    assert_child_of(&tree, place, create_order, SpanKind::Client);
    let confirm = one(&tree, Service::Orders, CONFIRM_ORDER);
    assert_child_of(
        &tree,
        confirm,
        one(&tree, Service::Orders, "create orders.confirmed"),
        SpanKind::Client,
    );
    assert!(
        place.end_unix_nanos <= confirm.start_unix_nanos,
        "placed, then confirmed:\n{}",
        tree.render()
    );
    let payments = one(&tree, Service::Payments, "POST /payments");
    assert_child_of(
        &tree,
        caller_of(&tree, payments, Service::Orders, "POST"),
        create_order,
        SpanKind::Client,
    );
    let charge = one(&tree, Service::Payments, "payments.charge_card");
    assert_child_of(&tree, charge, payments, SpanKind::Internal);
    // The attempt is on record before the processor hears of it, and its
    // outcome after: a lost answer can still be settled.
    let recorded = one(&tree, Service::Payments, "INSERT payments");
    assert_child_of(&tree, recorded, charge, SpanKind::Client);
    let processor_call = one(&tree, Service::Payments, "POST");
    assert_child_of(&tree, processor_call, charge, SpanKind::Client);
    let settled = one(&tree, Service::Payments, "UPDATE payments");
    assert_child_of(&tree, settled, charge, SpanKind::Client);
    assert!(
        recorded.end_unix_nanos <= processor_call.start_unix_nanos
            && processor_call.end_unix_nanos <= settled.start_unix_nanos,
        "record, charge, settle, in that order:\n{}",
        tree.render()
    );

    // gateway → notifications
    let notifications = one(&tree, Service::Notifications, "POST /notifications");
    assert_child_of(
        &tree,
        caller_of(&tree, notifications, Service::Gateway, "POST"),
        root,
        SpanKind::Client,
    );
    assert_child_of(
        &tree,
        one(&tree, Service::Notifications, "INSERT notifications"),
        notifications,
        SpanKind::Client,
    );

    assert!(
        spans.iter().all(|span| !span.is_error()),
        "no span failed:\n{}",
        tree.render()
    );
    Ok(())
}

pub async fn every_hop_carries_http_semantic_conventions(suite: Arc<Suite>) -> anyhow::Result<()> {
    let (_, spans) = confirmed_checkout(&suite).await?;
    let tree = TraceTree::new(&spans);
    let servers = [
        (Service::Gateway, "POST /checkout", "POST", "/checkout", 201),
        (
            Service::Users,
            "GET /users/{customer_id}",
            "GET",
            "/users/{customer_id}",
            200,
        ),
        (Service::Orders, "POST /orders", "POST", "/orders", 201),
        (
            Service::Payments,
            "POST /payments",
            "POST",
            "/payments",
            201,
        ),
        (
            Service::Notifications,
            "POST /notifications",
            "POST",
            "/notifications",
            202,
        ),
    ];
    for (service, name, method, route, status) in servers {
        let span = one(&tree, service, name);
        assert_eq!(span.str_attr("http.request.method"), Some(method), "{span}");
        assert_eq!(span.str_attr("http.route"), Some(route), "{span}");
        assert_eq!(
            span.int_attr("http.response.status_code"),
            Some(status),
            "{span}"
        );
        assert_eq!(span.str_attr("url.scheme"), Some("http"), "{span}");
        assert!(
            span.str_attr("url.path")
                .is_some_and(|path| path.starts_with('/')),
            "{span}"
        );
        assert_eq!(span.str_attr("server.address"), Some("127.0.0.1"), "{span}");
        assert!(span.int_attr("server.port").is_some(), "{span}");
        assert_eq!(span.attr("error.type"), None, "{span}");
    }

    // Every CLIENT span that called over HTTP names where it went.
    let http_clients = spans
        .iter()
        .filter(|span| span.kind == SpanKind::Client && span.attr("http.request.method").is_some());
    let mut count = 0;
    for span in http_clients {
        count += 1;
        let url = span.str_attr("url.full").unwrap_or_default();
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "{span}: url.full {url:?}"
        );
        let port = span.int_attr("server.port").unwrap_or_default();
        assert!(
            url.contains(&format!(":{port}/")),
            "{span}: server.port {port} in {url}"
        );
        assert_eq!(span.str_attr("server.address"), Some("127.0.0.1"), "{span}");
        assert!(
            span.int_attr("http.response.status_code")
                .is_some_and(|code| (200..300).contains(&code)),
            "{span}"
        );
        assert_eq!(
            span.name,
            span.str_attr("http.request.method").unwrap_or_default()
        );
    }
    assert_eq!(
        count,
        5,
        "gateway ×3, orders ×1, payments ×1:\n{}",
        tree.render()
    );
    Ok(())
}

pub async fn every_database_owner_traces_its_queries(suite: Arc<Suite>) -> anyhow::Result<()> {
    let (reply, spans) = confirmed_checkout(&suite).await?;
    let tree = TraceTree::new(&spans);
    // (service, span name, db.operation.name, db.collection.name): a
    // statement doing several things is named after its summary.
    let statements = [
        (Service::Users, "SELECT users", "SELECT", "users"),
        (Service::Orders, PLACE_ORDER, "INSERT", "orders"),
        (Service::Orders, CONFIRM_ORDER, "UPDATE", "orders"),
        (Service::Payments, "INSERT payments", "INSERT", "payments"),
        (Service::Payments, "UPDATE payments", "UPDATE", "payments"),
        (
            Service::Notifications,
            "INSERT notifications",
            "INSERT",
            "notifications",
        ),
    ];
    for (service, name, operation, collection) in statements {
        let span = one(&tree, service, name);
        assert_eq!(span.kind, SpanKind::Client, "{span}");
        assert_eq!(
            span.str_attr("db.system.name"),
            Some("postgresql"),
            "{span}"
        );
        assert_eq!(
            span.str_attr("db.operation.name"),
            Some(operation),
            "{span}"
        );
        assert_eq!(
            span.str_attr("db.collection.name"),
            Some(collection),
            "{span}"
        );
        assert_eq!(span.str_attr("server.address"), Some("127.0.0.1"), "{span}");
        assert_eq!(span.int_attr("server.port"), Some(5432), "{span}");
        assert!(
            span.str_attr("db.namespace")
                .is_some_and(|name| name.ends_with(service.name())),
            "{span}: each service queries its own database"
        );
        let text = span.str_attr("db.query.text").unwrap_or_default();
        let summary = span.str_attr("db.query.summary");
        assert_eq!(
            summary.is_some(),
            text.starts_with("WITH"),
            "{span}: a statement of several operations has a summary"
        );
        assert!(
            (summary == Some(name) || text.starts_with(operation)) && text.contains("$1"),
            "{span}: {text}"
        );
        // Parameterised: the values of this checkout never appear.
        for value in ["cus_1001", "sku_keyboard", reply.str("order_id"), "8900"] {
            assert!(!text.contains(value), "{span}: {value} in {text}");
        }
    }
    Ok(())
}

pub async fn business_spans_carry_domain_attributes_and_milestones(
    suite: Arc<Suite>,
) -> anyhow::Result<()> {
    let (reply, spans) = confirmed_checkout(&suite).await?;
    let tree = TraceTree::new(&spans);
    let order_id = reply.str("order_id");

    let create_order = one(&tree, Service::Orders, "orders.create_order");
    assert_eq!(create_order.str_attr("order.id"), Some(order_id));
    assert_eq!(create_order.int_attr("order.item_count"), Some(2));
    assert_eq!(
        create_order.int_attr("order.total_cents"),
        Some(8900 + 2 * 2900)
    );
    assert_eq!(create_order.str_attr("order.currency"), Some("EUR"));
    assert_eq!(create_order.str_attr("order.status"), Some("confirmed"));
    for milestone in ["order.reserved", "order.confirmed"] {
        assert!(
            create_order.event(milestone).is_some(),
            "{milestone} on {create_order}"
        );
    }

    let charge = one(&tree, Service::Payments, "payments.charge_card");
    assert!(
        charge
            .str_attr("payment.id")
            .is_some_and(|id| id.starts_with("pay_"))
    );
    assert_eq!(charge.str_attr("order.id"), Some(order_id));
    assert_eq!(
        charge.int_attr("payment.amount_cents"),
        Some(8900 + 2 * 2900)
    );
    assert_eq!(charge.str_attr("payment.card.last4"), Some("4242"));
    assert_eq!(charge.str_attr("payment.outcome"), Some("approved"));
    assert!(charge.event("payment.approved").is_some(), "{charge}");
    Ok(())
}

pub async fn card_processor_exports_nothing(suite: Arc<Suite>) -> anyhow::Result<()> {
    let (_, spans) = confirmed_checkout(&suite).await?;
    let tree = TraceTree::new(&spans);
    let processor_call = one(&tree, Service::Payments, "POST");
    assert_eq!(
        processor_call.int_attr("server.port"),
        suite
            .url(Service::CardProcessor)
            .rsplit(':')
            .next()
            .and_then(|port| port.parse().ok()),
        "payments' POST goes to the card processor"
    );
    assert!(
        tree.children(processor_call).is_empty(),
        "{}",
        tree.render()
    );
    let everything = suite.receiver().spans();
    assert!(
        everything
            .iter()
            .all(|span| span.service != Service::CardProcessor.name()),
        "the card processor plays a third party: it exports nothing"
    );
    Ok(())
}

pub async fn logs_carry_the_trace_of_their_request(suite: Arc<Suite>) -> anyhow::Result<()> {
    let (reply, _) = confirmed_checkout(&suite).await?;
    let trace_id = reply.trace_id.clone();
    let services = [
        Service::Gateway,
        Service::Orders,
        Service::Payments,
        Service::Notifications,
    ];

    // Exported as OTLP log records with their trace context.
    let logs = suite
        .receiver()
        .wait_for_logs(
            |logs| {
                services.iter().all(|service| {
                    logs.iter().any(|log| {
                        log.service == service.name() && log.trace_id.as_deref() == Some(&trace_id)
                    })
                })
            },
            crate::support::EXPORT_TIMEOUT,
        )
        .await;
    for service in services {
        let record = logs.iter().find(|log| {
            log.service == service.name() && log.trace_id.as_deref() == Some(&trace_id)
        });
        let record =
            record.unwrap_or_else(|| panic!("no OTLP log record of {service} in trace {trace_id}"));
        assert!(
            record.span_id.as_deref().is_some_and(|id| id.len() == 16),
            "{record:?}"
        );
    }

    // And on stdout, one JSON object a line, with the same ids.
    for service in services {
        let lines: Vec<serde_json::Value> = suite
            .stdout(service)
            .iter()
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|_| panic!("{service}: not JSON: {line}"))
            })
            .collect();
        let in_trace = lines
            .iter()
            .filter(|line| line["trace_id"] == trace_id.as_str())
            .count();
        assert!(
            in_trace > 0,
            "{service} wrote no line with trace_id {trace_id}"
        );
        assert!(
            lines
                .iter()
                .filter(|line| line["trace_id"] == trace_id.as_str())
                .all(|line| line["span_id"].as_str().is_some_and(|id| id.len() == 16)),
            "{service}: every line of the request has its span_id"
        );
    }
    Ok(())
}
