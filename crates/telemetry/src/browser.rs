//! Spans from browsers: a same-origin OTLP/HTTP route that checks them and
//! forwards them to the service's own traces endpoint.
//!
//! A page that sends its spans to the Collector needs the Collector on the
//! open internet and CORS to allow it. Instead, the service that serves the
//! page takes them at `POST /otlp/v1/traces`, on the page's own origin, and
//! forwards them over the protocol and to the endpoint its own exporter
//! uses. Anything can post there, so what arrives is untrusted input:
//!
//! - a client sending more than 10 requests a second (bursts of 20) from one
//!   address gets 429 with `Retry-After`;
//! - a content type other than OTLP's `application/json` and
//!   `application/x-protobuf` gets 415, a body over 256 KiB 413, one that
//!   is not an OTLP export request 400;
//! - resource spans whose `service.name` is not the page's are not
//!   forwarded; the answer counts them as rejected (OTLP partial success);
//! - the Collector away, failing or slower than 2 s costs the browser a 503
//!   with `Retry-After`, and at most 8 forwards wait on it at once (more get
//!   503 at once): the service's own requests never wait for any of this;
//! - with the SDK disabled, or no OTLP trace exporter, every request is
//!   answered 200 and nothing is forwarded.
//!
//! Forwarding makes no span, metric or log line of its own: the route sits
//! outside the server middleware, and the forwarding client is a plain one.
//! A trace of every export would double the traffic it describes.
//!
//! The rate is counted per client IP address as the socket sees it: the
//! server must put a [`ConnectInfo<SocketAddr>`] in each request's
//! extensions (axum's `into_make_service_with_connect_info` does); without
//! one, all clients share one count. Behind a proxy every browser has the
//! proxy's address, so raise the limits or count at the proxy. Headers such
//! as `X-Forwarded-For` are not trusted: anyone can send them.

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Body,
    extract::{ConnectInfo, Request, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use opentelemetry_proto::tonic::{
    collector::trace::v1::{
        ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
    },
    common::v1::any_value,
    trace::v1::ResourceSpans,
};
use prost::Message;
use tokio::sync::Semaphore;
use url::Url;

use crate::config::{ConfigError, ExporterKind, OtlpTarget, Protocol, TelemetryConfig};

/// Where browsers post their spans: OTLP/HTTP's default traces path.
pub const PATH: &str = "/otlp/v1/traces";

/// The largest body accepted: a page's batch is a few KiB.
pub const BODY_LIMIT: usize = 256 * 1024;

/// Requests a second one client address may send, on average.
const RATE_PER_SECOND: f64 = 10.0;
/// How many requests one client address may send at once.
const BURST: f64 = 20.0;
/// Client addresses remembered at most; past this, new clients wait until
/// the idle ones are forgotten. Bounds memory under a spoofed-address flood.
const MAX_CLIENTS: usize = 10_000;

/// How long a forward may take before the browser is told to come back.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(2);
/// Forwards waiting on the Collector at once; more are answered 503.
const MAX_FORWARDS_IN_FLIGHT: usize = 8;
/// What a browser is told to wait after a 429 or a 503, in seconds.
const RETRY_AFTER_SECONDS: &str = "5";

/// The route for one page's spans, read from the same `OTEL_*` variables
/// as the service's own exporter.
pub struct BrowserSpans {
    page_service: String,
    forward: Option<Forward>,
    limiter: RateLimiter,
    forwards: Semaphore,
}

impl BrowserSpans {
    /// Accepts spans whose resource says `service.name=page_service`, and
    /// forwards them where `config` sends the service's traces.
    pub fn new(page_service: &str, config: &TelemetryConfig) -> Self {
        let exports = !config.sdk_disabled && config.span_exporters.contains(&ExporterKind::Otlp);
        Self {
            page_service: page_service.to_owned(),
            forward: exports.then(|| Forward::to(&config.traces)),
            limiter: RateLimiter::default(),
            forwards: Semaphore::new(MAX_FORWARDS_IN_FLIGHT),
        }
    }

    /// [`BrowserSpans::new`] with the `OTEL_*` configuration of the
    /// environment.
    pub fn from_env(page_service: &str) -> Result<Self, ConfigError> {
        Ok(Self::new(
            page_service,
            &TelemetryConfig::from_env(page_service)?,
        ))
    }

    /// `POST /otlp/v1/traces`. Merge it outside any tracing middleware.
    pub fn into_router<S>(self) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        Router::new()
            .route(PATH, post(receive))
            .with_state(Arc::new(self))
    }
}

async fn receive(State(relay): State<Arc<BrowserSpans>>, request: Request) -> Response {
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
    if !relay.limiter.allow(client, Instant::now()) {
        return refuse(
            StatusCode::TOO_MANY_REQUESTS,
            Encoding::Json,
            "too many requests",
        )
        .retry_after();
    }
    let Some(encoding) = Encoding::of(request.headers()) else {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Encoding::Json,
            "send application/json or application/x-protobuf",
        )
        .into_response();
    };
    let body = match Limited::new(request.into_body(), BODY_LIMIT)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(error) if error.is::<LengthLimitError>() => {
            return refuse(StatusCode::PAYLOAD_TOO_LARGE, encoding, "over 256 KiB").into_response();
        }
        Err(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                encoding,
                "the body could not be read",
            )
            .into_response();
        }
    };
    let Some(export) = encoding.decode(&body) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            encoding,
            "not an OTLP export request",
        )
        .into_response();
    };
    let (export, rejected_spans) = keep_service(export, &relay.page_service);
    let answer = accepted(encoding, rejected_spans, &relay.page_service);
    let Some(forward) = &relay.forward else {
        return answer;
    };
    if export.resource_spans.is_empty() {
        return answer;
    }
    let Ok(_permit) = relay.forwards.try_acquire() else {
        return refuse(StatusCode::SERVICE_UNAVAILABLE, encoding, "busy").retry_after();
    };
    match tokio::time::timeout(FORWARD_TIMEOUT, forward.send(export)).await {
        Ok(Ok(())) => answer,
        Ok(Err(())) | Err(_) => refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            encoding,
            "the collector did not take the spans",
        )
        .retry_after(),
    }
}

/// Drops the resource spans of any other service than `page_service`, and
/// counts the spans dropped.
fn keep_service(
    mut export: ExportTraceServiceRequest,
    page_service: &str,
) -> (ExportTraceServiceRequest, i64) {
    let mut rejected = 0;
    export.resource_spans.retain(|resource_spans| {
        let keep = service_name(resource_spans) == Some(page_service);
        if !keep {
            rejected += resource_spans
                .scope_spans
                .iter()
                .map(|scope| scope.spans.len())
                .sum::<usize>();
        }
        keep
    });
    (export, i64::try_from(rejected).unwrap_or(i64::MAX))
}

fn service_name(resource_spans: &ResourceSpans) -> Option<&str> {
    let attributes = &resource_spans.resource.as_ref()?.attributes;
    let names: Vec<_> = attributes
        .iter()
        .filter(|attribute| attribute.key == "service.name")
        .collect();
    // Twice is ambiguous: back ends differ on which one wins.
    let [name] = names.as_slice() else {
        return None;
    };
    match name.value.as_ref()?.value.as_ref()? {
        any_value::Value::StringValue(name) => Some(name),
        _ => None,
    }
}

/// OTLP/HTTP's two encodings; the answer is in the request's.
#[derive(Clone, Copy)]
enum Encoding {
    Json,
    Protobuf,
}

impl Encoding {
    fn of(headers: &http::HeaderMap) -> Option<Self> {
        let content_type = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
        let essence = content_type.split(';').next()?.trim();
        if essence.eq_ignore_ascii_case("application/json") {
            Some(Self::Json)
        } else if essence.eq_ignore_ascii_case("application/x-protobuf") {
            Some(Self::Protobuf)
        } else {
            None
        }
    }

    fn decode(self, body: &[u8]) -> Option<ExportTraceServiceRequest> {
        match self {
            Self::Json => serde_json::from_slice(body).ok(),
            Self::Protobuf => ExportTraceServiceRequest::decode(body).ok(),
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Protobuf => "application/x-protobuf",
        }
    }
}

/// 200 with an `ExportTraceServiceResponse`, which reports the spans of
/// other services as rejected.
fn accepted(encoding: Encoding, rejected_spans: i64, page_service: &str) -> Response {
    let partial_success = (rejected_spans > 0).then(|| ExportTracePartialSuccess {
        rejected_spans,
        error_message: format!("only spans of service.name={page_service} are accepted"),
    });
    let answer = ExportTraceServiceResponse { partial_success };
    let body = match encoding {
        Encoding::Json => serde_json::to_vec(&answer).unwrap_or_default(),
        Encoding::Protobuf => answer.encode_to_vec(),
    };
    ([(header::CONTENT_TYPE, encoding.content_type())], body).into_response()
}

/// A failure as OTLP/HTTP wants it: the status code, and a `google.rpc.Status`
/// with only its message (the specification leaves `code` out).
fn refuse(status: StatusCode, encoding: Encoding, message: &'static str) -> Refusal {
    let body = match encoding {
        Encoding::Json => serde_json::json!({ "message": message })
            .to_string()
            .into_bytes(),
        Encoding::Protobuf => RpcStatus {
            message: message.to_owned(),
        }
        .encode_to_vec(),
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(encoding.content_type()),
    );
    Refusal(response)
}

struct Refusal(Response);

impl Refusal {
    /// OTLP exporters retry 429 and 503 after `Retry-After` when it is there.
    fn retry_after(mut self) -> Response {
        self.0.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(RETRY_AFTER_SECONDS),
        );
        self.0
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        self.0
    }
}

/// `google.rpc.Status` without its `code` and `details`.
#[derive(Clone, PartialEq, Message)]
struct RpcStatus {
    #[prost(string, tag = "2")]
    message: String,
}

/// Where the accepted spans go: the service's own traces endpoint.
enum Forward {
    Http {
        client: reqwest::Client,
        endpoint: Url,
    },
    #[cfg(feature = "grpc")]
    Grpc {
        endpoint: Url,
        /// Made at the first forward: a channel needs the runtime.
        client: Box<tokio::sync::OnceCell<TraceClient>>,
    },
}

#[cfg(feature = "grpc")]
type TraceClient =
    opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient<
        tonic::transport::Channel,
    >;

impl Forward {
    #[expect(
        clippy::disallowed_methods,
        reason = "a plain client: a traced one would trace every export"
    )]
    fn to(target: &OtlpTarget) -> Self {
        match target.protocol {
            Protocol::HttpProtobuf => Self::Http {
                client: reqwest::Client::new(),
                endpoint: target.endpoint.clone(),
            },
            #[cfg(feature = "grpc")]
            Protocol::Grpc => Self::Grpc {
                endpoint: target.endpoint.clone(),
                client: Box::default(),
            },
            // Without the `grpc` feature `init` refuses `grpc`, so no
            // service gets here.
            #[cfg(not(feature = "grpc"))]
            Protocol::Grpc => Self::Http {
                client: reqwest::Client::new(),
                endpoint: target.endpoint.clone(),
            },
        }
    }

    async fn send(&self, export: ExportTraceServiceRequest) -> Result<(), ()> {
        match self {
            Self::Http { client, endpoint } => {
                let response = client
                    .post(endpoint.clone())
                    .header(header::CONTENT_TYPE, "application/x-protobuf")
                    .body(export.encode_to_vec())
                    .send()
                    .await
                    .map_err(drop)?;
                if response.status().is_success() {
                    Ok(())
                } else {
                    Err(())
                }
            }
            #[cfg(feature = "grpc")]
            Self::Grpc { endpoint, client } => {
                let client = client
                    .get_or_try_init(|| async {
                        let channel = tonic::transport::Endpoint::from_shared(endpoint.to_string())
                            .map_err(drop)?
                            .connect_timeout(FORWARD_TIMEOUT)
                            .connect_lazy();
                        Ok::<_, ()>(TraceClient::new(channel))
                    })
                    .await?;
                client.clone().export(export).await.map(drop).map_err(drop)
            }
        }
    }
}

/// A token bucket per client address.
#[derive(Default)]
struct RateLimiter {
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl Bucket {
    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * RATE_PER_SECOND).min(BURST);
        self.updated = now;
    }
}

impl RateLimiter {
    fn allow(&self, client: IpAddr, now: Instant) -> bool {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= MAX_CLIENTS && !buckets.contains_key(&client) {
            // A full bucket is a client idle long enough to forget.
            buckets.retain(|_, bucket| {
                bucket.refill(now);
                bucket.tokens < BURST
            });
            if buckets.len() >= MAX_CLIENTS {
                return false;
            }
        }
        let bucket = buckets.entry(client).or_insert(Bucket {
            tokens: BURST,
            updated: now,
        });
        bucket.refill(now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::{
        common::v1::{AnyValue, KeyValue},
        resource::v1::Resource,
        trace::v1::{ScopeSpans, Span},
    };

    use super::*;

    fn resource_spans(service_names: &[&str], spans: usize) -> ResourceSpans {
        let attributes = service_names
            .iter()
            .map(|name| KeyValue {
                key: "service.name".to_owned(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue((*name).to_owned())),
                }),
                ..KeyValue::default()
            })
            .collect();
        ResourceSpans {
            resource: Some(Resource {
                attributes,
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![Span::default(); spans],
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }
    }

    #[test]
    fn only_the_pages_own_spans_are_kept_and_the_rest_are_counted() {
        let export = ExportTraceServiceRequest {
            resource_spans: vec![
                resource_spans(&["storefront"], 3),
                resource_spans(&["orders"], 2),
                resource_spans(&[], 1),
                resource_spans(&["storefront", "orders"], 4),
            ],
        };
        let (kept, rejected) = keep_service(export, "storefront");
        assert_eq!(
            kept.resource_spans,
            vec![resource_spans(&["storefront"], 3)]
        );
        assert_eq!(rejected, 7);
    }

    #[test]
    fn a_client_gets_its_burst_then_its_rate_and_others_are_not_affected() {
        let limiter = RateLimiter::default();
        let start = Instant::now();
        let client = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        let other = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
        let allowed = (0..30).filter(|_| limiter.allow(client, start)).count();
        assert_eq!(allowed, 20);
        assert!(limiter.allow(other, start));
        assert!(!limiter.allow(client, start + Duration::from_millis(50)));
        assert!(limiter.allow(client, start + Duration::from_millis(150)));
    }

    #[test]
    fn content_types_are_otlps_two() {
        let with = |value: &'static str| {
            let mut headers = http::HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
            Encoding::of(&headers).map(Encoding::content_type)
        };
        assert_eq!(with("application/json"), Some("application/json"));
        assert_eq!(
            with("Application/JSON; charset=utf-8"),
            Some("application/json")
        );
        assert_eq!(
            with("application/x-protobuf"),
            Some("application/x-protobuf")
        );
        assert_eq!(with("text/plain"), None);
        assert_eq!(with("application/jsonp"), None);
    }
}
