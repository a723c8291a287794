//! The storefront: its page, its files, and the same-origin route that
//! takes its spans (`POST /otlp/v1/traces`), which treats what a browser
//! sends as untrusted input.

use std::{
    net::{IpAddr, Ipv4Addr},
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context as _;
use e2e::{Service, Suite};
use serde_json::{Value, json};

use crate::support::EXPORT_TIMEOUT;

/// One span as OTLP/HTTP JSON, from a resource claiming `service`.
pub fn export(service: &str, span_name: &str) -> Value {
    let trace_id = format!("{:032x}", rand::random::<u128>());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    json!({"resourceSpans": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": service}},
        ]},
        "scopeSpans": [{
            "scope": {"name": "e2e"},
            "spans": [{
                "traceId": trace_id,
                "spanId": format!("{:016x}", rand::random::<u64>()),
                "name": span_name,
                "kind": 1,
                "startTimeUnixNano": (now - 1_000_000).to_string(),
                "endTimeUnixNano": now.to_string(),
            }],
        }],
    }]})
}

/// Posts `body` to the gateway's route for browser spans.
pub async fn post_spans(
    client: &reqwest::Client,
    suite: &Suite,
    content_type: &str,
    body: Vec<u8>,
) -> anyhow::Result<reqwest::Response> {
    client
        .post(format!("{}/otlp/v1/traces", suite.url(Service::Gateway)))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .context("posting spans to the gateway")
}

fn json_body(value: &Value) -> Vec<u8> {
    value.to_string().into_bytes()
}

/// Waits for a span of this name from this service.
async fn arrives(suite: &Suite, service: &str, name: &str) -> bool {
    let started = Instant::now();
    while started.elapsed() < EXPORT_TIMEOUT {
        let found = suite
            .receiver()
            .spans()
            .iter()
            .any(|span| span.service == service && span.name == name);
        if found {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

pub async fn the_page_and_its_files_carry_their_headers_and_only_the_page_is_traced(
    suite: Arc<Suite>,
) -> anyhow::Result<()> {
    let client = e2e::http_client();
    let gateway = suite.url(Service::Gateway);
    let page = client.get(format!("{gateway}/")).send().await?;
    assert_eq!(page.status(), 200);
    let header = |response: &reqwest::Response, name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let policy = header(&page, "content-security-policy");
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
    ] {
        assert!(policy.contains(directive), "{policy}");
    }
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert_eq!(header(&page, "x-content-type-options"), "nosniff");
    assert_eq!(header(&page, "cache-control"), "no-store");
    let traceresponse = header(&page, "traceresponse");
    let html = page.text().await?;

    // The page names its own request's span, the parent of its document load.
    let meta = format!(r#"<meta name="traceparent" content="{traceresponse}">"#);
    assert!(html.contains(&meta), "no {meta} in\n{html}");
    for hook in ["customer", "sku", "quantity", "card", "checkout-button"] {
        assert!(html.contains(&format!(r#"data-testid="{hook}""#)), "{hook}");
    }
    assert!(!html.contains("<script>"), "inline scripts are forbidden");

    let assets: Vec<&str> = html
        .split("/assets/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert_eq!(assets.len(), 3, "script, stylesheet and icon: {assets:?}");
    for asset in &assets {
        let file = client
            .get(format!("{gateway}/assets/{asset}"))
            .send()
            .await?;
        assert_eq!(file.status(), 200, "{asset}");
        assert_eq!(
            header(&file, "cache-control"),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(header(&file, "x-content-type-options"), "nosniff");
        assert!(header(&file, "traceresponse").is_empty(), "{asset} traced");
    }
    let missing = client
        .get(format!("{gateway}/assets/missing-0000.js"))
        .send()
        .await?;
    assert_eq!(missing.status(), 404);
    assert!(header(&missing, "cache-control").is_empty());

    let trace_id = traceresponse.split('-').nth(1).unwrap_or_default();
    let spans = crate::support::settled_trace(&suite, trace_id).await;
    assert!(
        spans
            .iter()
            .any(|span| span.service == "gateway" && span.name == "GET /"),
        "{spans:#?}"
    );
    let files_traced = suite.receiver().spans().into_iter().any(|span| {
        span.service == "gateway"
            && span
                .str_attr("url.path")
                .is_some_and(|path| path.starts_with("/assets/"))
    });
    assert!(!files_traced, "a request for a file made a span");
    Ok(())
}

pub async fn the_otlp_route_refuses_what_is_not_otlp(suite: Arc<Suite>) -> anyhow::Result<()> {
    let client = e2e::http_client();
    let valid = json_body(&export("storefront", "e2e refused"));
    let wrong_type = post_spans(&client, &suite, "text/plain", valid.clone()).await?;
    assert_eq!(wrong_type.status(), 415);

    let mut too_big = export("storefront", "e2e too big");
    too_big["padding"] = json!("x".repeat(300 * 1024));
    let too_big = post_spans(&client, &suite, "application/json", json_body(&too_big)).await?;
    assert_eq!(too_big.status(), 413);

    for (content_type, body) in [
        ("application/json", b"{\"resourceSpans\": 7}".to_vec()),
        ("application/x-protobuf", b"\xff\xff\xff".to_vec()),
    ] {
        let not_otlp = post_spans(&client, &suite, content_type, body).await?;
        assert_eq!(not_otlp.status(), 400, "{content_type}");
    }
    Ok(())
}

pub async fn spans_claiming_another_service_are_not_forwarded(
    suite: Arc<Suite>,
) -> anyhow::Result<()> {
    let client = e2e::http_client();
    let forged = format!("forged {}", rand::random::<u32>());
    let answer = post_spans(
        &client,
        &suite,
        "application/json",
        json_body(&export("orders", &forged)),
    )
    .await?;
    assert_eq!(answer.status(), 200);
    let answer: Value = answer.json().await?;
    let rejected = &answer["partialSuccess"]["rejectedSpans"];
    assert!(
        rejected == &json!(1) || rejected == &json!("1"),
        "the answer says what was refused: {answer}"
    );

    // Forwards go one after another: once a later span arrived, the
    // forged one would have.
    let genuine = format!("genuine {}", rand::random::<u32>());
    let answer = post_spans(
        &client,
        &suite,
        "application/json",
        json_body(&export("storefront", &genuine)),
    )
    .await?;
    assert_eq!(answer.status(), 200);
    assert!(
        arrives(&suite, "storefront", &genuine).await,
        "{genuine} never arrived"
    );
    let forged_arrived = suite
        .receiver()
        .spans()
        .iter()
        .any(|span| span.name == forged);
    assert!(
        !forged_arrived,
        "a span claiming to be orders was forwarded"
    );

    // Forwarding is not traced: no gateway span names the route.
    let traced = suite.receiver().spans().into_iter().any(|span| {
        span.service == "gateway"
            && (span.name.contains("/otlp/")
                || span
                    .str_attr("url.path")
                    .is_some_and(|path| path.starts_with("/otlp/"))
                || span
                    .str_attr("url.full")
                    .is_some_and(|url| url.contains("/v1/traces")))
    });
    assert!(!traced, "forwarding browser spans made a span of its own");
    Ok(())
}

pub async fn a_client_sending_too_fast_gets_429_and_others_do_not(
    suite: Arc<Suite>,
) -> anyhow::Result<()> {
    // From an address of its own, so the browser tests beside it keep
    // their budget.
    let flooder = e2e::http_client_from(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)))?;
    let mut statuses = Vec::new();
    for _ in 0..40 {
        // 415s are cheap, and still counted: the limit comes first.
        let answer = post_spans(&flooder, &suite, "text/plain", Vec::new()).await?;
        if answer.status() == 429 {
            assert!(answer.headers().contains_key("retry-after"));
        }
        statuses.push(answer.status().as_u16());
    }
    let limited = statuses.iter().filter(|&&status| status == 429).count();
    assert!(limited >= 10, "{statuses:?}");

    let other = post_spans(
        &e2e::http_client(),
        &suite,
        "application/json",
        json_body(&export("storefront", "e2e another client")),
    )
    .await?;
    assert_eq!(other.status(), 200, "another client is not limited");
    Ok(())
}
