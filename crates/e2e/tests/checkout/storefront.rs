//! The storefront: its page, its files, and the same-origin route that
//! takes its spans (`POST /otlp/v1/traces`), which treats what a browser
//! sends as untrusted input.

use std::{
    net::{IpAddr, Ipv4Addr},
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context as _;
use e2e::{Browser, Service, SpanKind, Suite, SuiteOptions, TraceTree};
use serde_json::{Value, json};

use crate::support::{APPROVED_CARD, EXPORT_TIMEOUT, assert_child_of};

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

/// How long the page may take to show a checkout's answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);

/// Opens the page, buys two mice with the approved card, and returns the
/// order id and trace id the page shows.
async fn buy_in_the_browser(browser: &Browser, suite: &Suite) -> anyhow::Result<(String, String)> {
    browser
        .goto(&format!("{}/", suite.url(Service::Gateway)))
        .await?;
    browser.select("customer", "cus_1002").await?;
    browser.select("sku", "sku_mouse").await?;
    browser.fill("quantity", "2").await?;
    browser.select("card", APPROVED_CARD).await?;
    browser.click("checkout-button").await?;
    let order_id = browser.wait_for_text("order-id", ANSWER_TIMEOUT).await?;
    let trace_id = browser.wait_for_text("trace-id", ANSWER_TIMEOUT).await?;
    Ok((order_id, trace_id))
}

/// The `<meta name="traceparent">` the gateway wrote into the page.
async fn page_traceparent(browser: &Browser) -> anyhow::Result<Option<String>> {
    let value = browser
        .execute(
            "return document.querySelector('meta[name=traceparent]')?.content ?? null;",
            Vec::new(),
        )
        .await?;
    Ok(value.as_str().map(str::to_owned))
}

pub async fn a_click_in_the_browser_is_the_root_of_the_checkouts_trace(
    suite: Arc<Suite>,
) -> anyhow::Result<()> {
    let browser = Browser::start().await?;
    let (order_id, trace_id) = buy_in_the_browser(&browser, &suite).await?;
    assert!(order_id.starts_with("ord_"), "{order_id}");
    let traceparent = page_traceparent(&browser)
        .await?
        .context("no traceparent meta")?;

    // The screenshot the README shows, with the answer on the page.
    let screenshot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("storefront.png");
    browser.screenshot(&screenshot).await?;
    eprintln!("the page after a checkout: {}", screenshot.display());

    let gateway = suite.url(Service::Gateway);
    for url in browser.resource_urls().await? {
        assert!(
            url.starts_with(&format!("{gateway}/")),
            "the page asked another origin: {url}"
        );
    }
    let errors = browser.console_errors().await?;
    assert!(errors.is_empty(), "the page logged errors: {errors:#?}");

    // One trace from the click to the database. The page exports each
    // second: the browser stays open until its spans are in.
    let from_page = |kind: SpanKind, name: &'static str| {
        move |spans: &[e2e::Span]| {
            (spans.iter()).any(|span| {
                span.service == "storefront" && span.kind == kind && span.name.starts_with(name)
            })
        }
    };
    let receiver = suite.receiver();
    receiver
        .wait_for_trace(
            &trace_id,
            from_page(SpanKind::Client, "POST"),
            EXPORT_TIMEOUT,
        )
        .await;
    let spans = crate::support::settled_trace(&suite, &trace_id).await;
    let tree = TraceTree::new(&spans);
    let click = spans
        .iter()
        .find(|span| span.service == "storefront" && span.parent_span_id.is_none())
        .with_context(|| format!("no root span from the page:\n{}", tree.render()))?;
    assert_eq!(click.name, "click", "{}", tree.render());
    let fetch = one(&tree, "storefront", SpanKind::Client, "POST");
    assert_child_of(&tree, fetch, click, SpanKind::Client);
    assert_eq!(fetch.int_attr("http.response.status_code"), Some(201));
    let checkout = one(&tree, "gateway", SpanKind::Server, "POST /checkout");
    assert_child_of(&tree, checkout, fetch, SpanKind::Server);
    for service in ["users", "orders", "payments", "notifications"] {
        assert!(
            spans.iter().any(|span| span.service == service),
            "no {service} span in the click's trace:\n{}",
            tree.render()
        );
    }
    assert!(
        spans
            .iter()
            .any(|span| span.str_attr("db.system.name") == Some("postgresql")),
        "no database span:\n{}",
        tree.render()
    );

    // The document load joins the trace of `GET /`.
    let [_, page_trace, page_span, _] = traceparent.split('-').collect::<Vec<_>>()[..] else {
        anyhow::bail!("not a traceparent: {traceparent}");
    };
    receiver
        .wait_for_trace(
            page_trace,
            from_page(SpanKind::Internal, "documentLoad"),
            EXPORT_TIMEOUT,
        )
        .await;
    browser.close().await?;
    let page = crate::support::settled_trace(&suite, page_trace).await;
    let page_tree = TraceTree::new(&page);
    let get = one(&page_tree, "gateway", SpanKind::Server, "GET /");
    assert_eq!(get.span_id, page_span);
    let document_load = page
        .iter()
        .find(|span| span.service == "storefront" && span.name == "documentLoad")
        .with_context(|| format!("no documentLoad span:\n{}", page_tree.render()))?;
    assert_eq!(
        document_load.parent_span_id.as_deref(),
        Some(page_span),
        "{}",
        page_tree.render()
    );
    Ok(())
}

/// The only span of `service` of this kind whose name starts with `name`.
fn one<'a>(tree: &TraceTree<'a>, service: &str, kind: SpanKind, name: &str) -> &'a e2e::Span {
    let found: Vec<_> = tree
        .spans()
        .iter()
        .filter(|span| span.service == service && span.kind == kind && span.name.starts_with(name))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{service} {kind:?} {name}:\n{}",
        tree.render()
    );
    found[0]
}

pub async fn the_page_works_with_the_gateways_sdk_disabled(
    _shared: Arc<Suite>,
) -> anyhow::Result<()> {
    let suite = Suite::start(SuiteOptions::default().service_env(
        Service::Gateway,
        "OTEL_SDK_DISABLED",
        "true",
    ))
    .await?;
    let browser = Browser::start().await?;
    let (order_id, _) = buy_in_the_browser(&browser, &suite).await?;
    assert!(order_id.starts_with("ord_"), "{order_id}");
    browser.close().await?;

    let answer = post_spans(
        &e2e::http_client(),
        &suite,
        "application/json",
        json_body(&export("storefront", "e2e with the sdk disabled")),
    )
    .await?;
    assert_eq!(answer.status(), 200, "accepted, and dropped");
    // The services behind the gateway still export: wait for their spans,
    // then no span from the page may be among them.
    let started = Instant::now();
    while started.elapsed() < EXPORT_TIMEOUT
        && !suite
            .receiver()
            .spans()
            .iter()
            .any(|span| span.service == "notifications")
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let services: std::collections::BTreeSet<String> = suite
        .receiver()
        .spans()
        .into_iter()
        .map(|span| span.service)
        .collect();
    assert!(services.contains("notifications"), "{services:?}");
    assert!(!services.contains("storefront"), "{services:?}");
    assert!(!services.contains("gateway"), "{services:?}");
    Ok(())
}
