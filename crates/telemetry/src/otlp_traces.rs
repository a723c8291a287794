//! The OTLP/HTTP span exporter: each batch encoded by [`SpanEncoder`] (no
//! intermediate messages) and posted through the export thread's
//! [`Transport`], with what the upstream exporter does around it:
//!
//! - the headers of `OTEL_EXPORTER_OTLP_TRACES_HEADERS`, or else
//!   `OTEL_EXPORTER_OTLP_HEADERS`, read from the process environment as the
//!   upstream exporter reads them;
//! - retries of what the OTLP specification calls retryable (429, 502, 503,
//!   504, and no answer at all), with exponential backoff and jitter, after
//!   the server's `Retry-After` when it gives one, and never past the
//!   export timeout;
//! - a partial success (spans the collector rejected) reported on the log.
//!
//! - `gzip` when `OTEL_EXPORTER_OTLP_TRACES_COMPRESSION`, or else
//!   `OTEL_EXPORTER_OTLP_COMPRESSION`, asks for it (the `gzip` feature);
//!   any other value goes to the upstream exporter, which says it cannot
//!   and sends the spans as they are ([`span_compression`]).

use std::{
    fmt,
    str::FromStr,
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header};
use opentelemetry_http::{Bytes, HttpClient as _, Request};
use opentelemetry_sdk::{
    Resource,
    error::{OTelSdkError, OTelSdkResult},
    trace::{SpanData, SpanExporter},
};

use crate::{
    config::OtlpTarget,
    export::{NamedExporter, Transport},
    otlp_encode::SpanEncoder,
};

/// Retries after the first attempt, and the backoff between them: the
/// upstream exporter's recommended policy.
const MAX_RETRIES: u32 = 3;
const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_millis(1600);
const MAX_JITTER_NANOS: u32 = 100_000_000;

/// What the compression variables ask of the spans' exporter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SpanCompression {
    /// Unset or `none`.
    None,
    /// `gzip`, with the `gzip` feature.
    Gzip,
    /// Something this exporter does not do (`gzip` without the feature,
    /// `zstd`, a typo): the upstream exporter warns and sends as it is.
    Unsupported,
}

/// The first of the compression variables that is set, as upstream reads
/// them.
pub(crate) fn span_compression() -> SpanCompression {
    let value = [
        "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
        "OTEL_EXPORTER_OTLP_COMPRESSION",
    ]
    .into_iter()
    .find_map(|name| std::env::var(name).ok().filter(|value| !value.is_empty()));
    match value {
        None => SpanCompression::None,
        Some(value) if value.eq_ignore_ascii_case("none") => SpanCompression::None,
        Some(value) if cfg!(feature = "gzip") && value.eq_ignore_ascii_case("gzip") => {
            SpanCompression::Gzip
        }
        Some(_) => SpanCompression::Unsupported,
    }
}

/// Posts spans as OTLP/HTTP protobuf to one endpoint.
pub(crate) struct HttpSpanExporter {
    transport: Transport,
    endpoint: Uri,
    headers: HeaderMap,
    timeout: Duration,
    resource: Resource,
    encoder: Mutex<SpanEncoder>,
    gzip: bool,
    shut_down: AtomicBool,
}

// By hand: the headers may carry an API key.
impl fmt::Debug for HttpSpanExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpSpanExporter")
            .field("endpoint", &self.endpoint)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl HttpSpanExporter {
    /// `gzip` compresses each request's body (`SpanCompression::Gzip`).
    pub(crate) fn new(
        transport: Transport,
        target: &OtlpTarget,
        gzip: bool,
    ) -> Result<Self, String> {
        let endpoint =
            Uri::from_str(target.endpoint.as_str()).map_err(|error| error.to_string())?;
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-protobuf"),
        );
        headers.insert(
            header::USER_AGENT,
            HeaderValue::from_static(concat!(
                "OTel-OTLP-Exporter-Rust service-telemetry/",
                env!("CARGO_PKG_VERSION")
            )),
        );
        let configured = std::env::var("OTEL_EXPORTER_OTLP_TRACES_HEADERS")
            .or_else(|_| std::env::var("OTEL_EXPORTER_OTLP_HEADERS"));
        if let Ok(configured) = configured {
            // Replacing, as upstream does: a configured User-Agent wins.
            for (name, value) in parse_headers(&configured) {
                headers.insert(name, value);
            }
        }
        if gzip {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        Ok(Self {
            transport,
            endpoint,
            headers,
            timeout: target.timeout,
            resource: Resource::builder_empty().build(),
            encoder: Mutex::default(),
            gzip,
            shut_down: AtomicBool::new(false),
        })
    }

    /// Posts `body`, again while the answer is retryable and time is left.
    async fn send(&self, body: Bytes) -> OTelSdkResult {
        let start = Instant::now();
        let mut backoff = INITIAL_BACKOFF;
        let mut retries = 0;
        loop {
            let (error, retry_after) = match self.post(body.clone()).await {
                Ok(Answer::Accepted(body)) => {
                    report_partial_success(&body, &self.endpoint);
                    return Ok(());
                }
                Ok(Answer::Refused(status, retry_after)) if is_retryable(status) => {
                    (status_error(status), retry_after)
                }
                Ok(Answer::Refused(status, _)) => return Err(status_error(status)),
                // The transport keeps the reason, for `NamedExporter`.
                Err(()) => (network_error(), None),
            };
            // The server's delay when it gives one, else the backoff's.
            let delay = retry_after.unwrap_or_else(|| (backoff + jitter()).min(MAX_BACKOFF));
            if retries == MAX_RETRIES || start.elapsed() + delay >= self.timeout {
                return Err(error);
            }
            self.transport.sleep(delay).await;
            retries += 1;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    async fn post(&self, body: Bytes) -> Result<Answer, ()> {
        let mut request = Request::new(body);
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = self.endpoint.clone();
        *request.headers_mut() = self.headers.clone();
        let response = self.transport.send_bytes(request).await.map_err(drop)?;
        let status = response.status();
        if status.is_success() {
            return Ok(Answer::Accepted(response.into_body()));
        }
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|value| parse_retry_after(value.to_str().ok()?, SystemTime::now()));
        Ok(Answer::Refused(status, retry_after))
    }
}

/// `bytes` compressed with gzip.
#[cfg(feature = "gzip")]
fn gzip(bytes: &[u8]) -> Result<Bytes, OTelSdkError> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 4),
        flate2::Compression::default(),
    );
    encoder
        .write_all(bytes)
        .and_then(|()| encoder.finish())
        .map(Bytes::from)
        .map_err(|error| OTelSdkError::InternalFailure(format!("gzip: {error}")))
}

/// Without the feature, gzip is never asked of this exporter
/// ([`span_compression`] sends it upstream).
#[cfg(not(feature = "gzip"))]
fn gzip(_: &[u8]) -> Result<Bytes, OTelSdkError> {
    Err(OTelSdkError::InternalFailure(
        "gzip needs the `gzip` feature of service-telemetry".to_owned(),
    ))
}

/// What the collector said to one request.
enum Answer {
    /// 2xx, with the body: an `ExportTraceServiceResponse`.
    Accepted(Bytes),
    /// Anything else, with the delay `Retry-After` asks for.
    Refused(StatusCode, Option<Duration>),
}

/// The OTLP/HTTP specification's retryable answers.
fn is_retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 502 | 503 | 504)
}

// The upstream exporter's messages, which the reachability line quotes.
fn status_error(status: StatusCode) -> OTelSdkError {
    OTelSdkError::InternalFailure(format!(
        "HTTP export failed with status code: {}",
        status.as_u16()
    ))
}

fn network_error() -> OTelSdkError {
    OTelSdkError::InternalFailure("HTTP export failed: network error".to_owned())
}

/// Up to 100 ms, so services that failed together do not retry together.
fn jitter() -> Duration {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    Duration::from_nanos(u64::from(nanos % MAX_JITTER_NANOS))
}

/// `Retry-After`: seconds, or an HTTP date (a date past is no wait).
fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or_default())
}

/// `key=value,...` with percent-encoded values, as the upstream exporter
/// parses it: entries it cannot use are left out.
fn parse_headers(value: &str) -> impl Iterator<Item = (HeaderName, HeaderValue)> {
    value.split_terminator(',').filter_map(|entry| {
        let (key, value) = entry.trim().split_once('=')?;
        let (key, value) = (key.trim(), value.trim());
        let value = percent_decode(value).unwrap_or_else(|| value.to_owned());
        if key.is_empty() || value.is_empty() {
            return None;
        }
        Some((
            HeaderName::from_str(key).ok()?,
            HeaderValue::from_str(&value).ok()?,
        ))
    })
}

/// `None` when a `%` is not followed by two hex digits or the bytes are
/// not UTF-8.
fn percent_decode(value: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(value.len());
    let mut rest = value.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(byte);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

/// An `ExportTraceServiceResponse` with a `partial_success` that rejected
/// spans or says something is one line on the log; the batch is not sent
/// again (the specification forbids it).
fn report_partial_success(body: &[u8], endpoint: &Uri) {
    let Some((rejected_spans, error_message)) = partial_success(body) else {
        return;
    };
    if rejected_spans != 0 || !error_message.is_empty() {
        tracing::warn!(
            target: "service_telemetry::export",
            rejected_spans,
            error_message,
            "{endpoint} accepted the spans but rejected {rejected_spans}: {error_message}"
        );
    }
}

/// `partial_success` (field 1) of an `ExportTraceServiceResponse`:
/// `rejected_spans` (1, int64) and `error_message` (2, string). A response
/// that cannot be read is no partial success, as upstream treats it.
fn partial_success(body: &[u8]) -> Option<(i64, &str)> {
    let mut found = None;
    for field in Fields(body) {
        if let (1, Field::Len(message)) = field? {
            let (mut rejected, mut error_message) = (0, "");
            for field in Fields(message) {
                match field? {
                    (1, Field::Varint(value)) => rejected = value.cast_signed(),
                    (2, Field::Len(text)) => error_message = std::str::from_utf8(text).ok()?,
                    _ => {}
                }
            }
            found = Some((rejected, error_message));
        }
    }
    found
}

/// The fields of a protobuf message, enough to read a response: `None`
/// for bytes that are not one.
struct Fields<'a>(&'a [u8]);

enum Field<'a> {
    Varint(u64),
    Len(&'a [u8]),
    Other,
}

impl<'a> Iterator for Fields<'a> {
    type Item = Option<(u64, Field<'a>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        let field = self.field();
        if field.is_none() {
            // Stop after a malformed field.
            self.0 = &[];
        }
        Some(field)
    }
}

impl<'a> Fields<'a> {
    fn field(&mut self) -> Option<(u64, Field<'a>)> {
        let key = self.varint()?;
        let field = match key & 7 {
            0 => Field::Varint(self.varint()?),
            1 => self.skip(8)?,
            2 => {
                let len = usize::try_from(self.varint()?).ok()?;
                let (bytes, rest) = self.0.split_at_checked(len)?;
                self.0 = rest;
                Field::Len(bytes)
            }
            5 => self.skip(4)?,
            _ => return None,
        };
        Some((key >> 3, field))
    }

    fn varint(&mut self) -> Option<u64> {
        let mut value = 0_u64;
        for (index, &byte) in self.0.iter().enumerate().take(10) {
            value |= u64::from(byte & 0x7f) << (7 * index);
            if byte < 0x80 {
                self.0 = &self.0[index + 1..];
                return Some(value);
            }
        }
        None
    }

    fn skip(&mut self, len: usize) -> Option<Field<'a>> {
        self.0 = self.0.get(len..)?;
        Some(Field::Other)
    }
}

impl SpanExporter for HttpSpanExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        if self.shut_down.load(Ordering::Relaxed) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        // Encoded into the reused buffer, then copied once into the
        // request's body (or compressed into it), which the retries share.
        let body = {
            let mut encoder = self.encoder.lock().unwrap_or_else(PoisonError::into_inner);
            let request = encoder.encode(&batch, &self.resource);
            if self.gzip {
                gzip(request)?
            } else {
                Bytes::copy_from_slice(request)
            }
        };
        drop(batch);
        self.send(body).await
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        if self.shut_down.swap(true, Ordering::Relaxed) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = resource.clone();
    }
}

/// The crate's OTLP span exporter: this one, or the upstream one.
#[derive(Debug)]
pub(crate) enum OtlpSpanExporter {
    Encoded(NamedExporter<HttpSpanExporter>),
    Upstream(NamedExporter<opentelemetry_otlp::SpanExporter>),
}

impl SpanExporter for OtlpSpanExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        match self {
            Self::Encoded(exporter) => exporter.export(batch).await,
            Self::Upstream(exporter) => exporter.export(batch).await,
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        match self {
            Self::Encoded(exporter) => exporter.shutdown_with_timeout(timeout),
            Self::Upstream(exporter) => exporter.shutdown_with_timeout(timeout),
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        match self {
            Self::Encoded(exporter) => exporter.force_flush(),
            Self::Upstream(exporter) => exporter.force_flush(),
        }
    }

    fn set_resource(&mut self, resource: &Resource) {
        match self {
            Self::Encoded(exporter) => exporter.set_resource(resource),
            Self::Upstream(exporter) => exporter.set_resource(resource),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message as _;

    use super::*;
    use crate::{config::TlsFiles, export::ExportThread};

    /// What the fake collector saw of one request.
    struct Seen {
        headers: http::HeaderMap,
        body: Vec<u8>,
    }

    /// A collector that gives `answers` in turn (the last one again and
    /// again) and keeps what it was sent.
    async fn collector(
        answers: Vec<(u16, Option<&'static str>, Vec<u8>)>,
    ) -> (String, Arc<Mutex<Vec<Seen>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let router = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post({
                let seen = Arc::clone(&seen);
                move |headers: http::HeaderMap, body: axum::body::Bytes| async move {
                    let mut seen = seen.lock().unwrap();
                    seen.push(Seen {
                        headers,
                        body: body.to_vec(),
                    });
                    let (status, retry_after, body) =
                        answers[(seen.len() - 1).min(answers.len() - 1)].clone();
                    let mut response = http::Response::builder().status(status);
                    if let Some(retry_after) = retry_after {
                        response = response.header(header::RETRY_AFTER, retry_after);
                    }
                    response.body(axum::body::Body::from(body)).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        (format!("http://{address}/v1/traces"), seen)
    }

    fn exporter_to(thread: &ExportThread, endpoint: &str, timeout: Duration) -> HttpSpanExporter {
        exporter_with(thread, endpoint, timeout, false)
    }

    fn exporter_with(
        thread: &ExportThread,
        endpoint: &str,
        timeout: Duration,
        gzip: bool,
    ) -> HttpSpanExporter {
        let target = OtlpTarget {
            protocol: crate::config::Protocol::HttpProtobuf,
            endpoint: endpoint.parse().unwrap(),
            timeout,
            tls: TlsFiles::default(),
        };
        let mut exporter =
            HttpSpanExporter::new(thread.http_client(&target).unwrap(), &target, gzip).unwrap();
        exporter
            .headers
            .insert("api-key", HeaderValue::from_static("secret"));
        exporter.set_resource(&Resource::builder().with_service_name("test").build());
        exporter
    }

    fn span(name: &'static str) -> SpanData {
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(1),
                SpanId::from(2),
                TraceFlags::SAMPLED,
                false,
                opentelemetry::trace::TraceState::NONE,
            ),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Server,
            name: name.into(),
            start_time: SystemTime::now(),
            end_time: SystemTime::now(),
            attributes: vec![],
            dropped_attributes_count: 0,
            events: opentelemetry_sdk::trace::SpanEvents::default(),
            links: opentelemetry_sdk::trace::SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: opentelemetry::InstrumentationScope::builder("test").build(),
        }
    }

    #[cfg(feature = "gzip")]
    #[tokio::test(flavor = "multi_thread")]
    async fn gzip_sends_the_same_request_compressed() {
        use std::io::Read as _;
        let (endpoint, seen) = collector(vec![(200, None, vec![])]).await;
        let thread = ExportThread::start().unwrap();
        let mut plain = exporter_to(&thread, &endpoint, Duration::from_secs(5));
        let mut gzip = exporter_with(&thread, &endpoint, Duration::from_secs(5), true);
        // One resource and one span for both, so the bytes can be equal.
        let resource = Resource::builder().with_service_name("test").build();
        plain.set_resource(&resource);
        gzip.set_resource(&resource);
        let span = span("checkout");
        plain.export(vec![span.clone()]).await.unwrap();
        gzip.export(vec![span]).await.unwrap();
        let seen = seen.lock().unwrap();
        let [plain, compressed] = &seen[..] else {
            panic!("{} requests", seen.len());
        };
        assert_eq!(plain.headers.get(header::CONTENT_ENCODING), None);
        assert_eq!(compressed.headers[header::CONTENT_ENCODING], "gzip");
        let mut inflated = Vec::new();
        flate2::read::GzDecoder::new(&compressed.body[..])
            .read_to_end(&mut inflated)
            .unwrap();
        assert_eq!(inflated, plain.body, "the same request, compressed");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_throttled_export_is_sent_again_after_retry_after() {
        // partial_success { rejected_spans: 1, error_message: "too old" }
        let partial = vec![
            0x0a, 0x0b, 0x08, 0x01, 0x12, 0x07, b't', b'o', b'o', b' ', b'o', b'l', b'd',
        ];
        let (endpoint, seen) = collector(vec![
            (503, Some("1"), vec![]),
            (429, None, vec![]),
            (200, None, partial),
        ])
        .await;
        let thread = ExportThread::start().unwrap();
        let exporter = exporter_to(&thread, &endpoint, Duration::from_secs(5));
        let start = Instant::now();
        exporter.export(vec![span("checkout")]).await.unwrap();
        assert!(start.elapsed() >= Duration::from_secs(1), "Retry-After: 1");

        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 3);
        for request in seen.iter() {
            assert_eq!(request.headers["content-type"], "application/x-protobuf");
            assert_eq!(request.headers["api-key"], "secret");
            let request = ExportTraceServiceRequest::decode(request.body.as_slice()).unwrap();
            let spans = &request.resource_spans[0].scope_spans[0].spans;
            assert_eq!(spans.len(), 1);
            assert_eq!(spans[0].name, "checkout");
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_bad_request_is_not_sent_again() {
        let (endpoint, seen) = collector(vec![(400, None, vec![])]).await;
        let thread = ExportThread::start().unwrap();
        let exporter = exporter_to(&thread, &endpoint, Duration::from_secs(5));
        let error = exporter.export(vec![span("bad")]).await.unwrap_err();
        assert!(error.to_string().contains("status code: 400"), "{error}");
        assert_eq!(seen.lock().unwrap().len(), 1);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn retries_stop_after_three_and_at_the_timeout() {
        let (endpoint, seen) = collector(vec![(502, None, vec![])]).await;
        let thread = ExportThread::start().unwrap();
        let exporter = exporter_to(&thread, &endpoint, Duration::from_secs(5));
        let error = exporter.export(vec![span("down")]).await.unwrap_err();
        assert!(error.to_string().contains("status code: 502"), "{error}");
        assert_eq!(
            seen.lock().unwrap().len(),
            4,
            "the first try and three more"
        );

        // A wait the timeout does not leave room for is not waited.
        let (endpoint, seen) = collector(vec![(503, Some("60"), vec![])]).await;
        let impatient = exporter_to(&thread, &endpoint, Duration::from_secs(2));
        let start = Instant::now();
        impatient.export(vec![span("later")]).await.unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(1));
        assert_eq!(seen.lock().unwrap().len(), 1);
    }

    #[test]
    fn headers_are_parsed_as_upstream_parses_them() {
        let headers: Vec<(String, String)> =
            parse_headers(" api-key = a%20b ,empty=,=x,bad key=1,raw=%zz, x-two=2 ")
                .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
                .collect();
        assert_eq!(
            headers,
            [
                ("api-key".to_owned(), "a b".to_owned()),
                ("raw".to_owned(), "%zz".to_owned()),
                ("x-two".to_owned(), "2".to_owned()),
            ]
        );
    }

    #[test]
    fn retry_after_is_seconds_or_a_date() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(parse_retry_after(" 3 ", now), Some(Duration::from_secs(3)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(7));
        assert_eq!(parse_retry_after(&later, now), Some(Duration::from_secs(7)));
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(7));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn a_partial_success_is_read() {
        // partial_success { rejected_spans: 3, error_message: "no" },
        // after an unknown fixed64 field.
        let body = [
            0x19, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a, 0x06, 0x08, 0x03, 0x12, 0x02, b'n', b'o',
        ];
        assert_eq!(partial_success(&body), Some((3, "no")));
        assert_eq!(partial_success(&[]), None);
        assert_eq!(partial_success(&[0x0a, 0x05, 0x08]), None);
        assert_eq!(partial_success(&[0xff]), None);
    }
}
