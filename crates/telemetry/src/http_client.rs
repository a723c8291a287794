//! The one traced HTTP client: a CLIENT span per request, and the current
//! context injected into the request's headers.
//!
//! Built on reqwest-middleware and reqwest-tracing, with two pieces of our
//! own where the crates fall short of the conventions:
//! - `SemconvClientSpan`, a span backend: reqwest-tracing's default records
//!   `server.port` and the status code as strings and has no `url.full` or
//!   `error.type`;
//! - `PropagateContext`, a middleware: reqwest-tracing injects
//!   `traceparent` only for the OpenTelemetry versions it has features for,
//!   and 0.33 is not one of them.

use std::time::{Duration, Instant};

use http::Extensions;
use opentelemetry::KeyValue;
use opentelemetry_semantic_conventions::attribute as semconv;
use reqwest::{Request, Response};
use reqwest_middleware::{ClientBuilder, Middleware, Next};
use reqwest_tracing::{ReqwestOtelSpanBackend, TracingMiddleware};
use tracing::{Span, field::Empty};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::http_method_name as method_name;

/// The client's type and errors, and reqwest itself, at the versions the
/// client is built with: a service names them from here.
pub use reqwest;
pub use reqwest_middleware::{ClientWithMiddleware, Error, Result};

/// A client whose every request is a CLIENT span that carries the trace to
/// the callee. `timeout` bounds each whole request; a service should never
/// wait on a dependency forever. With the `tls` feature it speaks `https`,
/// trusting the platform's roots.
#[expect(
    clippy::disallowed_methods,
    reason = "this is the one place the untraced client is built"
)]
pub fn client(timeout: Duration) -> ClientWithMiddleware {
    let builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(2)));
    #[cfg(feature = "tls")]
    crate::tls::install_default_provider();
    #[cfg(feature = "tls")]
    let builder = match crate::tls::client_config(&crate::config::TlsFiles::default()) {
        Ok(config) => builder.tls_backend_preconfigured(config),
        // Only a bad certificate file can fail, and none is given here.
        Err(_) => builder,
    };
    let inner = builder.build().unwrap_or_else(|_| reqwest::Client::new());
    ClientBuilder::new(inner)
        .with(TracingMiddleware::<SemconvClientSpan>::new())
        // After the tracing middleware, so the current span is the CLIENT
        // span and the callee's SERVER span becomes its child.
        .with(PropagateContext)
        .build()
}

/// Injects the current context (`traceparent`, `tracestate`, `baggage`)
/// with the globally configured propagators.
pub(crate) struct PropagateContext;

#[async_trait::async_trait]
impl Middleware for PropagateContext {
    async fn handle(
        &self,
        mut request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> Result<Response> {
        let context = Span::current().context();
        crate::propagation::inject(&context, request.headers_mut());
        next.run(request, extensions).await
    }
}

/// Which attempt of a request this is: 0 for the first, 1 for the first
/// retry. Put in a request's extensions by whoever repeats it, and recorded
/// as `http.request.resend_count` on every attempt after the first.
#[derive(Clone, Copy, Debug)]
pub struct ResendCount(pub u32);

/// CLIENT spans per the HTTP semantic conventions: named by the method (a
/// client knows no route), with `url.full`, `server.address`, `server.port`,
/// the status code as an integer, and `error.type` on failures.
pub(crate) struct SemconvClientSpan;

impl ReqwestOtelSpanBackend for SemconvClientSpan {
    fn on_request_start(request: &Request, extensions: &mut Extensions) -> Span {
        let method = method_name(request.method());
        let resend_count = extensions
            .get::<ResendCount>()
            .map(|count| i64::from(count.0))
            .filter(|count| *count > 0);
        let url = request.url();
        extensions.insert(Attempt::start(method, url));
        let mut full = url.clone();
        // Credentials never belong in telemetry.
        let _ = full.set_username("");
        let _ = full.set_password(None);
        tracing::info_span!(
            "http.client.request",
            otel.name = if method == "_OTHER" { "HTTP" } else { method },
            otel.kind = "client",
            otel.status_code = Empty,
            otel.status_description = Empty,
            { semconv::HTTP_REQUEST_METHOD } = method,
            { semconv::URL_FULL } = full.as_str(),
            { semconv::SERVER_ADDRESS } = url.host_str(),
            { semconv::SERVER_PORT } = url.port_or_known_default().map(i64::from),
            { semconv::HTTP_REQUEST_RESEND_COUNT } = resend_count,
            { semconv::HTTP_RESPONSE_STATUS_CODE } = Empty,
            { semconv::ERROR_TYPE } = Empty,
        )
    }

    fn on_request_end(span: &Span, outcome: &Result<Response>, extensions: &mut Extensions) {
        let error_type = match outcome {
            Ok(response) => {
                let status = response.status();
                span.record(
                    semconv::HTTP_RESPONSE_STATUS_CODE,
                    i64::from(status.as_u16()),
                );
                // For a client, any 4xx or 5xx means the call failed.
                (status.is_client_error() || status.is_server_error()).then(|| {
                    span.record(semconv::ERROR_TYPE, status.as_str());
                    span.record("otel.status_code", "error");
                    status.as_str().to_owned()
                })
            }
            // No answer at all: the exception event says why.
            Err(error) => {
                crate::record_exception(span, error_type(error), &error.to_string());
                Some(error_type(error).to_owned())
            }
        };
        if let Some(attempt) = extensions.remove::<Attempt>() {
            let mut attributes = attempt.attributes;
            if let Ok(response) = outcome {
                attributes.push(KeyValue::new(
                    semconv::HTTP_RESPONSE_STATUS_CODE,
                    i64::from(response.status().as_u16()),
                ));
            }
            crate::metrics::instruments().http_client_duration.record(
                attempt.started.elapsed().as_secs_f64(),
                &crate::metrics::with_error_type(attributes, error_type),
            );
        }
    }
}

/// An attempt under way, for `http.client.request.duration`: when it
/// started and the attributes known then.
#[derive(Clone)]
struct Attempt {
    started: Instant,
    attributes: Vec<KeyValue>,
}

impl Attempt {
    fn start(method: &'static str, url: &reqwest::Url) -> Self {
        let mut attributes = vec![KeyValue::new(semconv::HTTP_REQUEST_METHOD, method)];
        if let Some(host) = url.host_str() {
            attributes.push(KeyValue::new(semconv::SERVER_ADDRESS, host.to_owned()));
        }
        if let Some(port) = url.port_or_known_default() {
            attributes.push(KeyValue::new(semconv::SERVER_PORT, i64::from(port)));
        }
        Self {
            started: Instant::now(),
            attributes,
        }
    }
}

/// A low-cardinality name for a failure that produced no response.
pub fn error_type(error: &Error) -> &'static str {
    match error {
        Error::Reqwest(error) if error.is_timeout() => "timeout",
        Error::Reqwest(error) if error.is_connect() => "connection_failed",
        Error::Reqwest(_) => "reqwest::Error",
        Error::Middleware(_) => "middleware",
    }
}
