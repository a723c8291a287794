//! SIGTERM: stop accepting, finish what is in flight, flush, exit 0.

use std::{sync::Arc, time::Duration};

use e2e::{Service, Suite, SuiteOptions};

use crate::support::{
    APPROVED_CARD, CONFIRMED_CHECKOUT_SPANS, checkout, post_checkout, trace_with,
};

pub async fn in_flight_checkout_finishes_and_its_spans_are_flushed_at_sigterm(
    _shared: Arc<Suite>,
) -> anyhow::Result<()> {
    let options = SuiteOptions::default()
        // A slow card processor keeps the checkout in flight.
        .service_env(Service::CardProcessor, "CHARGE_LATENCY_MS", "1500")
        // The gateway's batch would not leave for a minute: only the
        // shutdown flush can send its spans in time.
        .service_env(Service::Gateway, "OTEL_BSP_SCHEDULE_DELAY", "60000");
    let suite = Arc::new(Suite::start(options).await?);

    let in_flight = {
        let suite = Arc::clone(&suite);
        tokio::spawn(async move {
            post_checkout(&suite, &checkout("cus_1001", "sku_mouse", 1, APPROVED_CARD)).await
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let status = suite.stop(Service::Gateway).await?;

    let reply = in_flight.await??;
    assert_eq!(
        reply.status, 201,
        "the in-flight checkout completes: {:#}",
        reply.body
    );
    assert!(
        status.success(),
        "the gateway exits 0 after draining, got {status}"
    );
    let spans = trace_with(&suite, &reply.trace_id, CONFIRMED_CHECKOUT_SPANS).await;
    assert!(
        spans
            .iter()
            .any(|span| span.service == "gateway" && span.name == "POST /checkout"),
        "the gateway's spans were flushed at shutdown:\n{}",
        e2e::TraceTree::new(&spans).render()
    );
    let refused = e2e::http_client()
        .get(format!("{}/healthz", suite.url(Service::Gateway)))
        .send()
        .await;
    assert!(refused.is_err(), "a stopped gateway accepts nothing");
    Ok(())
}
