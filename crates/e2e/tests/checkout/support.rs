//! What the checkout tests share: requests as a user sends them, replies
//! as a user reads them, and trace-shape assertions that print the whole
//! trace when they fail.

use std::time::Duration;

use anyhow::{Context, ensure};
use e2e::{Service, Span, SpanKind, Suite, TraceTree};
use serde_json::{Value, json};
use sqlx::PgPool;

pub const APPROVED_CARD: &str = "4242424242424242";
pub const DECLINED_CARD: &str = "4000000000000002";
/// Long enough for a batch of a slow debug build to reach the receiver.
pub const EXPORT_TIMEOUT: Duration = Duration::from_secs(15);
/// Spans in the trace of a confirmed checkout: 17 for the HTTP hops and
/// their statements (see `trace.rs`), 6 for its event and its confirmation
/// (see `events.rs`).
pub const CONFIRMED_CHECKOUT_SPANS: usize = 23;

/// Orders' and users' statements that do several things in one round
/// trip, named after their `db.query.summary`.
pub const PLACE_ORDER: &str = "SELECT products UPDATE products INSERT orders INSERT order_items";
pub const CONFIRM_ORDER: &str = "UPDATE orders INSERT outbox";
pub const COUNT_EVENT: &str = "INSERT processed_events UPDATE users";

/// A checkout body with one line and a card that expires in 2030.
pub fn checkout(customer_id: &str, sku: &str, quantity: i64, card_number: &str) -> Value {
    json!({
        "customer_id": customer_id,
        "items": [{"sku": sku, "quantity": quantity}],
        "card": {"number": card_number, "exp_month": 12, "exp_year": 2030, "cvc": "123"},
    })
}

/// An answer of the gateway, as a caller sees it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: Value,
    /// From the `traceresponse` header: the trace of this request.
    pub trace_id: String,
    pub span_id: String,
}

impl Reply {
    pub fn str(&self, key: &str) -> &str {
        self.body[key].as_str().unwrap_or_default()
    }

    /// Checks the RFC 9457 shape the contract promises for every error.
    pub fn assert_problem(&self, status: u16, kind: &str) {
        assert_eq!(self.status, status, "{:#}", self.body);
        assert_eq!(self.content_type, "application/problem+json");
        assert!(
            self.str("type").ends_with(&format!("/{kind}")),
            "{:#}",
            self.body
        );
        assert!(!self.str("title").is_empty(), "{:#}", self.body);
        assert!(!self.str("detail").is_empty(), "{:#}", self.body);
        assert_eq!(self.body["status"], status);
        assert_eq!(
            self.str("trace_id"),
            self.trace_id,
            "trace_id names the request's trace"
        );
    }
}

pub async fn post_checkout(suite: &Suite, body: &Value) -> anyhow::Result<Reply> {
    post_checkout_with(suite, body, &[]).await
}

pub async fn post_checkout_with(
    suite: &Suite,
    body: &Value,
    headers: &[(&str, &str)],
) -> anyhow::Result<Reply> {
    let mut request = e2e::http_client()
        .post(format!("{}/checkout", suite.url(Service::Gateway)))
        .json(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    reply(request).await
}

pub async fn get(suite: &Suite, path: &str) -> anyhow::Result<Reply> {
    reply(e2e::http_client().get(format!("{}{path}", suite.url(Service::Gateway)))).await
}

pub async fn reply(request: reqwest::RequestBuilder) -> anyhow::Result<Reply> {
    let response = request.send().await.context("calling the gateway")?;
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let content_type = header("content-type");
    let traceresponse = header("traceresponse");
    let parts: Vec<&str> = traceresponse.split('-').collect();
    ensure!(
        parts.len() == 4 && parts[0] == "00" && parts[1].len() == 32 && parts[2].len() == 16,
        "no valid traceresponse header: {traceresponse:?}"
    );
    let (trace_id, span_id) = (parts[1].to_owned(), parts[2].to_owned());
    let bytes = response.bytes().await?;
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).with_context(|| format!("body is not JSON: {bytes:?}"))?
    };
    Ok(Reply {
        status,
        content_type,
        body,
        trace_id,
        span_id,
    })
}

/// Waits until the trace has at least `count` spans, and returns them.
pub async fn trace_with(suite: &Suite, trace_id: &str, count: usize) -> Vec<Span> {
    suite
        .receiver()
        .wait_for_trace(trace_id, |spans| spans.len() >= count, EXPORT_TIMEOUT)
        .await
}

/// Waits for the spans of a trace until `settle` has passed without a new
/// one: for traces whose size the test does not know in advance.
/// Gives up after [`EXPORT_TIMEOUT`] and returns what arrived, so the
/// caller's assertion shows the gap.
pub async fn settled_trace(suite: &Suite, trace_id: &str) -> Vec<Span> {
    let started = std::time::Instant::now();
    let mut seen = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let spans = suite.receiver().trace(trace_id);
        let root_done = spans
            .iter()
            .any(|span| span.kind == SpanKind::Server && span.service == "gateway");
        if (root_done && spans.len() == seen) || started.elapsed() > EXPORT_TIMEOUT {
            return spans;
        }
        seen = spans.len();
    }
}

/// The single span of `service` named `name`, or a failure that prints
/// the whole trace.
pub fn one<'a>(tree: &TraceTree<'a>, service: Service, name: &str) -> &'a Span {
    let found = tree.find_all(service.name(), name);
    assert_eq!(
        found.len(),
        1,
        "expected one {service} span {name:?}, found {}:\n{}",
        found.len(),
        tree.render()
    );
    found[0]
}

/// Asserts that `child` is a direct child of `parent` and of `kind`.
pub fn assert_child_of(tree: &TraceTree<'_>, child: &Span, parent: &Span, kind: SpanKind) {
    assert_eq!(child.kind, kind, "kind of {child}:\n{}", tree.render());
    assert_eq!(
        child.parent_span_id.as_deref(),
        Some(parent.span_id.as_str()),
        "{child} should be a child of {parent}:\n{}",
        tree.render()
    );
    assert_eq!(child.trace_id, parent.trace_id);
}

/// The CLIENT span a callee's SERVER span hangs from: checks the link
/// across the process boundary and returns the client span.
pub fn caller_of<'a>(
    tree: &TraceTree<'a>,
    server: &Span,
    caller: Service,
    method: &str,
) -> &'a Span {
    assert_eq!(
        server.kind,
        SpanKind::Server,
        "{server}:\n{}",
        tree.render()
    );
    let client = tree
        .parent(server)
        .unwrap_or_else(|| panic!("{server} has no parent in the trace:\n{}", tree.render()));
    assert_eq!(
        client.service,
        caller.name(),
        "{server}'s parent:\n{}",
        tree.render()
    );
    assert_eq!(
        client.kind,
        SpanKind::Client,
        "{server}'s parent:\n{}",
        tree.render()
    );
    assert_eq!(client.name, method, "{server}'s parent:\n{}", tree.render());
    client
}

/// A JSON body from any service, for reading state a user could read.
pub async fn get_json(url: &str) -> anyhow::Result<Value> {
    let response = e2e::http_client().get(url).send().await?;
    anyhow::ensure!(
        response.status().is_success(),
        "GET {url}: {}",
        response.status()
    );
    Ok(response.json().await?)
}

pub async fn database(suite: &Suite, service: Service) -> anyhow::Result<PgPool> {
    let url = suite
        .database_url(service)
        .ok_or_else(|| anyhow::anyhow!("{service} has no database"))?;
    Ok(PgPool::connect(&url).await?)
}

/// A product of this test's own, so its stock is not shared with the
/// tests running beside it.
pub async fn product_with_stock(suite: &Suite, stock: i32) -> anyhow::Result<(PgPool, String)> {
    let db = database(suite, Service::Orders).await?;
    let sku = format!("sku_test_{}", std::process::id() ^ rand_suffix());
    sqlx::query("INSERT INTO products (sku, name, price_cents, currency, stock) VALUES ($1, 'Test', 1000, 'EUR', $2)")
        .bind(&sku)
        .bind(stock)
        .execute(&db)
        .await?;
    Ok((db, sku))
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos())
}

pub async fn stock(db: &PgPool, sku: &str) -> anyhow::Result<i32> {
    Ok(
        sqlx::query_scalar("SELECT stock FROM products WHERE sku = $1")
            .bind(sku)
            .fetch_one(db)
            .await?,
    )
}
