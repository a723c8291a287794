//! W3C Trace Context from callers: honoured when valid, ignored when not.

use std::{sync::Arc, time::Duration};

use e2e::{Service, Suite};

use crate::support::{APPROVED_CARD, checkout, one, post_checkout_with, settled_trace};

const CALLER_SPAN_ID: &str = "00f067aa0ba902b7";

/// A trace id of the caller's, unique to this test run.
fn caller_trace_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |elapsed| elapsed.as_nanos() & u128::from(u64::MAX));
    format!("{:032x}", u128::from(std::process::id()) << 64 | nanos)
}

pub async fn caller_traceparent_parents_the_gateway_span(suite: Arc<Suite>) -> anyhow::Result<()> {
    let trace_id = caller_trace_id();
    let traceparent = format!("00-{trace_id}-{CALLER_SPAN_ID}-01");

    let reply = post_checkout_with(
        &suite,
        &checkout("cus_1001", "sku_mouse", 1, APPROVED_CARD),
        &[
            ("traceparent", &traceparent),
            ("tracestate", "vendor=opaque"),
        ],
    )
    .await?;

    assert_eq!(reply.status, 201, "{:#}", reply.body);
    assert_eq!(reply.trace_id, trace_id, "the caller's trace continues");
    let spans = settled_trace(&suite, &trace_id).await;
    let tree = e2e::TraceTree::new(&spans);
    let root = one(&tree, Service::Gateway, "POST /checkout");
    assert_eq!(
        root.parent_span_id.as_deref(),
        Some(CALLER_SPAN_ID),
        "{}",
        tree.render()
    );
    assert!(
        spans.len() > 10,
        "the whole checkout is in the caller's trace:\n{}",
        tree.render()
    );
    Ok(())
}

pub async fn unsampled_caller_exports_nothing_and_still_succeeds(
    suite: Arc<Suite>,
) -> anyhow::Result<()> {
    let trace_id = caller_trace_id();
    let traceparent = format!("00-{trace_id}-{CALLER_SPAN_ID}-00");

    let reply = post_checkout_with(
        &suite,
        &checkout("cus_1001", "sku_mouse", 1, APPROVED_CARD),
        &[("traceparent", &traceparent)],
    )
    .await?;

    assert_eq!(reply.status, 201, "{:#}", reply.body);
    assert_eq!(reply.trace_id, trace_id);
    // Give every service's exporter several batch intervals.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let exported = suite.receiver().trace(&trace_id);
    assert!(
        exported.is_empty(),
        "an unsampled parent exports nothing, got {} spans",
        exported.len()
    );
    Ok(())
}

pub async fn malformed_traceparent_starts_a_new_trace(suite: Arc<Suite>) -> anyhow::Result<()> {
    for traceparent in [
        "00-not-hex-01",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        &format!("00-{}-00f067aa0ba902b7-01", "a".repeat(4096)),
    ] {
        let reply = post_checkout_with(
            &suite,
            &checkout("cus_1001", "sku_mouse", 1, APPROVED_CARD),
            &[("traceparent", traceparent), ("baggage", "=;;,==broken")],
        )
        .await?;
        assert_eq!(reply.status, 201, "{traceparent}: {:#}", reply.body);
        let spans = settled_trace(&suite, &reply.trace_id).await;
        let tree = e2e::TraceTree::new(&spans);
        let root = one(&tree, Service::Gateway, "POST /checkout");
        assert_eq!(
            root.parent_span_id,
            None,
            "{traceparent}: a new trace starts\n{}",
            tree.render()
        );
    }
    Ok(())
}

pub async fn synthetic_baggage_marks_every_server_span(suite: Arc<Suite>) -> anyhow::Result<()> {
    let body = checkout("cus_1001", "sku_mouse", 1, APPROVED_CARD);
    let synthetic = post_checkout_with(
        &suite,
        &body,
        &[
            ("baggage", "synthetic_request=true"),
            ("user-agent", loadgen::USER_AGENT),
        ],
    )
    .await?;
    let real = post_checkout_with(&suite, &body, &[]).await?;

    for (reply, marked) in [(synthetic, true), (real, false)] {
        assert_eq!(reply.status, 201, "{:#}", reply.body);
        let spans = settled_trace(&suite, &reply.trace_id).await;
        let tree = e2e::TraceTree::new(&spans);
        let servers: Vec<_> = spans
            .iter()
            .filter(|span| span.kind == e2e::SpanKind::Server)
            .collect();
        assert_eq!(servers.len(), 5, "{}", tree.render());
        for span in servers {
            let attribute = span.attr("app.synthetic_request").map(ToString::to_string);
            assert_eq!(
                attribute.as_deref(),
                marked.then_some("true"),
                "{span}\n{}",
                tree.render()
            );
        }
    }
    Ok(())
}
