//! Sending a bad request and judging its answer.

#![allow(
    clippy::wildcard_imports,
    reason = "the sections of one test module share its imports"
)]

use super::*;

/// One generated request, and the status the contract gives it.
#[derive(Clone)]
pub(super) struct BadRequest {
    pub(super) method: Method,
    pub(super) path: String,
    pub(super) content_type: Option<&'static str>,
    pub(super) idempotency_key: Option<Vec<u8>>,
    pub(super) body: Vec<u8>,
    pub(super) expected: u16,
    pub(super) flaw: String,
}

impl BadRequest {
    pub(super) fn holds_card_number(&self) -> bool {
        holds_card_number(&self.body)
            || holds_card_number(self.path.as_bytes())
            || self
                .idempotency_key
                .as_deref()
                .is_some_and(holds_card_number)
    }
}

impl std::fmt::Debug for BadRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BadRequest")
            .field("flaw", &shortened(&self.flaw))
            .field("method", &self.method)
            .field("path", &shortened(&self.path))
            .field("content_type", &self.content_type)
            .field(
                "idempotency_key",
                &(self.idempotency_key.as_deref())
                    .map(|key| shortened(&String::from_utf8_lossy(key))),
            )
            .field("body", &shortened(&String::from_utf8_lossy(&self.body)))
            .field("expected", &self.expected)
            .finish()
    }
}

/// Long enough to see what a value is, short enough to read a failure.
pub(super) fn shortened(text: &str) -> String {
    const KEEP: usize = 400;
    match text.char_indices().nth(KEEP) {
        Some((end, _)) => format!("{}… ({} bytes)", &text[..end], text.len()),
        None => text.to_owned(),
    }
}

/// A service's answer, as the checks need it.
#[derive(Debug)]
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) content_type: String,
    /// From `traceresponse`.
    pub(super) trace_id: Option<String>,
    pub(super) body: Vec<u8>,
}

/// What one endpoint's generated requests got.
pub(super) struct Outcome {
    pub(super) endpoint: Endpoint,
    pub(super) requests: usize,
    pub(super) server_errors: usize,
    pub(super) failure: Option<String>,
}

/// Runs an endpoint's generated cases, on a blocking thread: proptest is
/// synchronous, so each request is sent through the suite's runtime.
pub(super) fn probe(runtime: &Handle, endpoint: Endpoint, base: &str) -> Outcome {
    let client = e2e::http_client();
    let requests = AtomicUsize::new(0);
    let server_errors = AtomicUsize::new(0);
    let mut runner = TestRunner::new(Config {
        cases: endpoint.cases(),
        max_shrink_iters: MAX_SHRINK_ITERS,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&endpoint.requests(), |request| {
        let answer = runtime
            .block_on(send(&client, base, &request))
            .map_err(|error| TestCaseError::fail(format!("{request:?}: {error:#}")))?;
        requests.fetch_add(1, Ordering::Relaxed);
        if answer.status >= 500 {
            server_errors.fetch_add(1, Ordering::Relaxed);
        }
        check(&request, &answer)
    });
    Outcome {
        endpoint,
        requests: requests.into_inner(),
        server_errors: server_errors.into_inner(),
        failure: result.err().map(|error| error.to_string()),
    }
}

pub(super) async fn send(
    client: &reqwest::Client,
    base: &str,
    request: &BadRequest,
) -> anyhow::Result<Answer> {
    let mut builder = client.request(request.method.clone(), format!("{base}{}", request.path));
    if let Some(content_type) = request.content_type {
        builder = builder.header("content-type", content_type);
    }
    if let Some(key) = &request.idempotency_key {
        builder = builder.header("idempotency-key", HeaderValue::from_bytes(key)?);
    }
    if !request.body.is_empty() || request.method == Method::POST {
        builder = builder.body(request.body.clone());
    }
    let response = tokio::time::timeout(ANSWER_TIMEOUT, builder.send())
        .await
        .context("no answer in time")??;
    let header = |name: &str| {
        (response.headers().get(name))
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = header("content-type").unwrap_or_default();
    let trace_id =
        header("traceresponse").and_then(|value| value.split('-').nth(1).map(str::to_owned));
    Ok(Answer {
        status: response.status().as_u16(),
        content_type,
        trace_id,
        body: response.bytes().await?.to_vec(),
    })
}

/// The contract's promise for every bad request: its status, as
/// problem+json with every member, naming the request's trace.
pub(super) fn check(request: &BadRequest, answer: &Answer) -> Result<(), TestCaseError> {
    let body = String::from_utf8_lossy(&answer.body);
    prop_assert_eq!(
        answer.status,
        request.expected,
        "answered {}",
        shortened(&body)
    );
    prop_assert_eq!(
        answer.content_type.as_str(),
        "application/problem+json",
        "{}",
        shortened(&body)
    );
    let problem: Value = serde_json::from_slice(&answer.body)
        .map_err(|error| TestCaseError::fail(format!("not JSON ({error}): {body}")))?;
    for member in ["type", "title", "detail", "trace_id"] {
        prop_assert!(
            problem[member]
                .as_str()
                .is_some_and(|text| !text.is_empty()),
            "no {} in {}",
            member,
            problem
        );
    }
    prop_assert_eq!(&problem["status"], &json!(answer.status));
    prop_assert_eq!(problem["trace_id"].as_str(), answer.trace_id.as_deref());
    Ok(())
}
