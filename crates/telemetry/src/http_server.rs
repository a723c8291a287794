//! The HTTP server span: one SERVER span per request, child of the caller's
//! context, named and attributed per the HTTP semantic conventions.
//!
//! Add it with `Router::layer(axum::middleware::from_fn(trace_requests))`.
//! axum runs a router's layers after routing, so the matched route
//! (`/users/{customer_id}`) is known and becomes `http.route` and the span
//! name. Routes added after the layer (health checks) are not traced.

use axum::{
    extract::{MatchedPath, Request},
    http::{HeaderValue, StatusCode, header, uri::Authority},
    middleware::Next,
    response::Response,
};
use std::time::Instant;

use opentelemetry::KeyValue;
use opentelemetry_semantic_conventions::attribute as semconv;

use crate::http_method_name as method_name;
use tracing::{Instrument, Span, field::Empty};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The middleware: extracts the caller's context, runs the request inside a
/// SERVER span, records the outcome and answers with `traceresponse`.
pub async fn trace_requests(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let span = server_span(&request);
    let mut attributes = metric_attributes(&request);
    // A malformed traceparent extracts as an empty context: a new trace
    // starts. The only error is a span the filter disabled, which has no
    // parent to set.
    let parent = crate::propagation::extract(request.headers());
    if is_synthetic(&parent) {
        span.set_attribute(SYNTHETIC_REQUEST, true);
    }
    let _ = span.set_parent(parent);

    let mut response = next.run(request).instrument(span.clone()).await;
    let error_type = record_status(&span, response.status());
    attributes.push(KeyValue::new(
        semconv::HTTP_RESPONSE_STATUS_CODE,
        i64::from(response.status().as_u16()),
    ));
    crate::metrics::instruments().http_server_duration.record(
        started.elapsed().as_secs_f64(),
        &crate::metrics::with_error_type(attributes, error_type),
    );
    if let Some(value) = traceresponse(&span) {
        response.headers_mut().insert("traceresponse", value);
    }
    response
}

/// Marks the server span of traffic a load generator made, so dashboards
/// and queries can leave it out: the baggage entry and attribute the
/// OpenTelemetry demo uses.
const SYNTHETIC_REQUEST: &str = "app.synthetic_request";

fn is_synthetic(context: &opentelemetry::Context) -> bool {
    use opentelemetry::baggage::BaggageExt;
    context
        .baggage()
        .get("synthetic_request")
        .is_some_and(|value| value.as_str() == "true")
}

fn server_span(request: &Request) -> Span {
    let method = method_name(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    // `{method} {http.route}`, or the method alone when no route matched, so
    // that 404s for random paths do not each get their own span name.
    let name = match route {
        Some(route) => format!("{method} {route}"),
        None => method.to_owned(),
    };
    let (host, port) = host_and_port(request);
    let user_agent = request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|value| value.to_str().ok());

    let span = tracing::info_span!(
        "http.server.request",
        otel.name = name,
        otel.kind = "server",
        otel.status_code = Empty,
        { semconv::HTTP_REQUEST_METHOD } = method,
        { semconv::HTTP_ROUTE } = route,
        { semconv::URL_PATH } = request.uri().path(),
        { semconv::URL_SCHEME } = "http",
        { semconv::SERVER_ADDRESS } = host,
        { semconv::SERVER_PORT } = port,
        { semconv::NETWORK_PROTOCOL_VERSION } = protocol_version(request),
        { semconv::USER_AGENT_ORIGINAL } = user_agent,
        { semconv::HTTP_RESPONSE_STATUS_CODE } = Empty,
        { semconv::ERROR_TYPE } = Empty,
    );
    if method == "_OTHER" {
        span.set_attribute("http.request.method_original", request.method().to_string());
    }
    span
}

/// `http.server.request.duration`'s attributes known before the handler
/// runs. The route is the template, never the path; no route (a 404 for a
/// path nobody serves) records none.
///
/// The same middleware records the span and the metric, rather than a
/// second middleware (opentelemetry-instrumentation-tower records the
/// metric too): one place decides the method, route and status of both.
fn metric_attributes(request: &Request) -> Vec<KeyValue> {
    let mut attributes = vec![
        KeyValue::new(semconv::HTTP_REQUEST_METHOD, method_name(request.method())),
        KeyValue::new(semconv::URL_SCHEME, "http"),
    ];
    if let Some(route) = request.extensions().get::<MatchedPath>() {
        attributes.push(KeyValue::new(
            semconv::HTTP_ROUTE,
            route.as_str().to_owned(),
        ));
    }
    attributes
}

/// Server spans are errors only for 5xx: a 4xx is the client's mistake, and
/// the server handled it correctly. Returns the `error.type`, if any.
fn record_status(span: &Span, status: StatusCode) -> Option<String> {
    span.record(
        semconv::HTTP_RESPONSE_STATUS_CODE,
        i64::from(status.as_u16()),
    );
    if !status.is_server_error() {
        return None;
    }
    span.record(semconv::ERROR_TYPE, status.as_str());
    span.record("otel.status_code", "error");
    Some(status.as_str().to_owned())
}

/// W3C Trace Context Level 2 `traceresponse`: the server span's own context,
/// so a caller can find the trace of its request.
fn traceresponse(span: &Span) -> Option<HeaderValue> {
    HeaderValue::from_str(&crate::propagation::traceparent(span)?).ok()
}

/// `server.address` and `server.port` of a server span come from the `Host`
/// header: the name the client used to reach this service.
fn host_and_port(request: &Request) -> (Option<String>, Option<i64>) {
    let authority = request
        .headers()
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<Authority>().ok())
        .or_else(|| request.uri().authority().cloned());
    match authority {
        Some(authority) => (
            Some(authority.host().to_owned()),
            authority.port_u16().map(i64::from),
        ),
        None => (None, None),
    }
}

fn protocol_version(request: &Request) -> &'static str {
    match request.version() {
        axum::http::Version::HTTP_09 => "0.9",
        axum::http::Version::HTTP_10 => "1.0",
        axum::http::Version::HTTP_2 => "2",
        axum::http::Version::HTTP_3 => "3",
        _ => "1.1",
    }
}

#[cfg(test)]
mod tests {
    use axum::{Router, body::Body, http::Request as HttpRequest, middleware, routing::get};
    use proptest::prelude::*;
    use tower::ServiceExt;

    use super::trace_requests;

    fn app() -> Router {
        Router::new()
            .route("/users/{id}", get(|| async { "ok" }))
            .layer(middleware::from_fn(trace_requests))
    }

    async fn status_with(headers: &[(&str, &[u8])]) -> u16 {
        let mut request = HttpRequest::get("/users/1");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let Ok(request) = request.body(Body::empty()) else {
            // Not a header an HTTP server can receive at all.
            return 200;
        };
        let response = app().oneshot(request).await.unwrap();
        response.status().as_u16()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn no_propagation_header_fails_a_request(
            traceparent in proptest::collection::vec(any::<u8>(), 0..120),
            tracestate in proptest::collection::vec(any::<u8>(), 0..1200),
            baggage in proptest::collection::vec(any::<u8>(), 0..9000),
            repeat in any::<bool>(),
        ) {
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let mut headers: Vec<(&str, &[u8])> = vec![
                ("traceparent", &traceparent),
                ("tracestate", &tracestate),
                ("baggage", &baggage),
            ];
            if repeat {
                headers.extend_from_slice(&[("traceparent", &traceparent[..]), ("baggage", &baggage[..])]);
            }
            let status = runtime.block_on(status_with(&headers));
            prop_assert_eq!(status, 200);
        }
    }
}
