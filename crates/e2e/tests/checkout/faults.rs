//! Faults on demand: one checkout asks one hop to fail through a
//! `fault.<service>` baggage entry, and its trace shows where. The suite
//! runs with `FAULTS_ENABLED=true`, as the compose file does. The card
//! processor's `timeout` and `error` are in `resilience`, with the
//! settlements they lead to.

use std::{sync::Arc, time::Duration};

use e2e::{Service, Span, Suite, SuiteOptions, TraceTree};

use crate::support::{
    APPROVED_CARD, CONFIRM_ORDER, CONFIRMED_CHECKOUT_SPANS, PLACE_ORDER, checkout, one,
    post_checkout_with, settled_trace, trace_with,
};

fn body() -> serde_json::Value {
    checkout("cus_1001", "sku_mouse", 1, APPROVED_CARD)
}

/// The span the fault happened in: status ERROR, `error.type`, and an
/// `exception` event.
fn assert_failed_here(tree: &TraceTree<'_>, span: &Span, error_type: &str) {
    assert!(span.is_error(), "{span}:\n{}", tree.render());
    assert_eq!(span.str_attr("error.type"), Some(error_type), "{span}");
    assert!(
        span.event("exception").is_some(),
        "{span} has an exception event:\n{}",
        tree.render()
    );
}

pub async fn fault_error_fails_the_named_service_and_its_span(
    suite: Arc<Suite>,
) -> anyhow::Result<()> {
    let reply = post_checkout_with(&suite, &body(), &[("baggage", "fault.payments=error")]).await?;

    // payments failed before doing anything, but orders cannot know that:
    // the order waits for the reconciler, which finds nothing charged.
    reply.assert_problem(502, "dependency-failed");
    let spans = settled_trace(&suite, &reply.trace_id).await;
    let tree = TraceTree::new(&spans);
    let payments = one(&tree, Service::Payments, "POST /payments");
    assert_failed_here(&tree, payments, "500");
    let exception = payments
        .event("exception")
        .map(|event| event.str_attr("exception.type"));
    assert_eq!(exception, Some(Some("InjectedFault")));
    assert!(
        tree.find(Service::Payments.name(), "payments.charge_card")
            .is_none(),
        "the handler never ran:\n{}",
        tree.render()
    );
    Ok(())
}

pub async fn fault_latency_slows_one_hop_and_the_checkout_still_succeeds(
    suite: Arc<Suite>,
) -> anyhow::Result<()> {
    let reply =
        post_checkout_with(&suite, &body(), &[("baggage", "fault.users=latency:800ms")]).await?;

    assert_eq!(reply.status, 201, "{:#}", reply.body);
    let spans = trace_with(&suite, &reply.trace_id, CONFIRMED_CHECKOUT_SPANS).await;
    let tree = TraceTree::new(&spans);
    let users = one(&tree, Service::Users, "GET /users/{customer_id}");
    assert!(users.duration() >= Duration::from_millis(800), "{users}");
    let orders = one(&tree, Service::Orders, "POST /orders");
    assert!(
        orders.duration() < Duration::from_millis(800),
        "only users waited"
    );
    Ok(())
}

pub async fn fault_timeout_lets_the_callers_deadline_pass(suite: Arc<Suite>) -> anyhow::Result<()> {
    let reply = post_checkout_with(
        &suite,
        &body(),
        &[
            ("request-timeout-ms", "1500"),
            ("baggage", "fault.orders=timeout"),
        ],
    )
    .await?;

    reply.assert_problem(504, "dependency-timeout");
    let spans = settled_trace(&suite, &reply.trace_id).await;
    let tree = TraceTree::new(&spans);
    let place = tree
        .find_all(Service::Gateway.name(), "POST")
        .into_iter()
        .find(|span| {
            span.str_attr("url.full")
                .is_some_and(|url| url.ends_with("/orders"))
        })
        .unwrap_or_else(|| panic!("no call to orders:\n{}", tree.render()));
    assert_failed_here(&tree, place, "timeout");
    // orders stops at its deadline (a 504 nobody reads) or when the
    // gateway hangs up, whichever its process sees first; never later.
    let orders = one(&tree, Service::Orders, "POST /orders");
    assert!(
        orders.duration() < Duration::from_millis(2500),
        "{orders}:\n{}",
        tree.render()
    );
    assert_ne!(orders.int_attr("http.response.status_code"), Some(201));
    assert!(
        tree.find(Service::Orders.name(), "orders.create_order")
            .is_none(),
        "{}",
        tree.render()
    );
    Ok(())
}

pub async fn fault_db_error_fails_the_services_first_statement(
    suite: Arc<Suite>,
) -> anyhow::Result<()> {
    let reply =
        post_checkout_with(&suite, &body(), &[("baggage", "fault.orders=db_error")]).await?;

    reply.assert_problem(503, "database-unavailable");
    let spans = settled_trace(&suite, &reply.trace_id).await;
    let tree = TraceTree::new(&spans);
    let statement = one(&tree, Service::Orders, PLACE_ORDER);
    assert_failed_here(&tree, statement, "io");
    assert_eq!(
        one(&tree, Service::Orders, "POST /orders").int_attr("http.response.status_code"),
        Some(503)
    );
    assert!(
        tree.find(Service::Orders.name(), CONFIRM_ORDER).is_none(),
        "nothing after the failed statement:\n{}",
        tree.render()
    );
    // Another service's statements are untouched.
    assert!(!one(&tree, Service::Users, "SELECT users").is_error());
    Ok(())
}

pub async fn fault_latency_at_the_card_processor_shows_on_the_call_to_it(
    suite: Arc<Suite>,
) -> anyhow::Result<()> {
    let reply = post_checkout_with(
        &suite,
        &body(),
        &[("baggage", "fault.card_processor=latency:300ms")],
    )
    .await?;

    assert_eq!(reply.status, 201, "{:#}", reply.body);
    let spans = trace_with(&suite, &reply.trace_id, CONFIRMED_CHECKOUT_SPANS).await;
    let tree = TraceTree::new(&spans);
    let call = one(&tree, Service::Payments, "POST");
    assert!(call.duration() >= Duration::from_millis(300), "{call}");
    assert!(!call.is_error());
    Ok(())
}

pub async fn faults_are_ignored_unless_enabled(_shared: Arc<Suite>) -> anyhow::Result<()> {
    // Its own suite, configured as production is by default.
    let suite = Suite::start(SuiteOptions::default().env("FAULTS_ENABLED", "false")).await?;
    for fault in [
        "fault.payments=error",
        "fault.orders=db_error",
        "fault.card_processor=error",
    ] {
        let reply = post_checkout_with(&suite, &body(), &[("baggage", fault)]).await?;
        assert_eq!(reply.status, 201, "{fault}: {:#}", reply.body);
    }
    Ok(())
}
