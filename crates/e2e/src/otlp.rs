//! An in-memory OTLP/HTTP receiver: what the services' exporters talk to
//! instead of a collector, so a test can assert on what really left them.
//!
//! It serves `POST /v1/traces`, `POST /v1/logs` and `POST /v1/metrics` with
//! `application/x-protobuf` bodies, the OTLP/HTTP default and what the
//! suite's exporters send, and keeps every request twice: flattened into
//! [`Span`]s, [`LogRecord`]s and [`MetricPoint`]s for assertions, and as raw bytes for
//! [`OtlpReceiver::raw_payload_contains`], which sees what no flattening can
//! hide (a card number in a resource attribute, a scope name, anywhere).
//!
//! The same store is served over OTLP/gRPC too ([`OtlpReceiver::grpc_endpoint`]),
//! for the `grpc` protocol.
//!
//! Compressed bodies are refused with 415: the suite's exporters do not
//! compress, and a gzip decoder is not worth a dependency here.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    thread::JoinHandle,
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::{DefaultBodyLimit, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use opentelemetry_proto::tonic::collector::{
    logs::v1::{
        ExportLogsServiceRequest, ExportLogsServiceResponse,
        logs_service_server::{LogsService, LogsServiceServer},
    },
    metrics::v1::{
        ExportMetricsServiceRequest, ExportMetricsServiceResponse,
        metrics_service_server::{MetricsService, MetricsServiceServer},
    },
    trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
        trace_service_server::{TraceService, TraceServiceServer},
    },
};
use opentelemetry_proto::tonic::{
    logs::v1::ResourceLogs, metrics::v1::ResourceMetrics, trace::v1::ResourceSpans,
};
use prost::Message;
use tokio::sync::oneshot;
use tokio_stream::wrappers::TcpListenerStream;

use crate::{
    metrics::{MetricPoint, flatten_metrics},
    model::{LogRecord, Span, flatten_logs, flatten_spans},
};

const PROTOBUF: &str = "application/x-protobuf";

/// Large enough for any batch an SDK sends (axum's default is 2 MiB).
const BODY_LIMIT: usize = 64 * 1024 * 1024;

/// How often the `wait_for_*` helpers look again.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Everything received so far, or only how many spans, for a benchmark
/// whose receiver must not grow.
#[derive(Default)]
struct Store {
    discard: bool,
    span_count: usize,
    /// Spans of database statements (those with `db.system.name`).
    statement_span_count: usize,
    /// The spans' export requests as protobuf, summed, kept or not.
    span_bytes: usize,
    spans: Vec<Span>,
    logs: Vec<LogRecord>,
    metrics: Vec<MetricPoint>,
    /// Data points received, kept or not.
    metric_point_count: usize,
    raw: Vec<Bytes>,
}

impl Store {
    /// Counts the spans, and keeps them unless discarding: flattening is
    /// most of a receiver's work, which a benchmark must not compete with.
    fn keep_spans(&mut self, resource_spans: Vec<ResourceSpans>, raw: Bytes) {
        self.span_bytes += raw.len();
        self.statement_span_count += resource_spans
            .iter()
            .flat_map(|resource| &resource.scope_spans)
            .flat_map(|scope| &scope.spans)
            .filter(|span| {
                (span.attributes.iter()).any(|attribute| attribute.key == "db.system.name")
            })
            .count();
        if self.discard {
            self.span_count += resource_spans
                .iter()
                .flat_map(|resource| &resource.scope_spans)
                .map(|scope| scope.spans.len())
                .sum::<usize>();
            return;
        }
        let spans = flatten_spans(resource_spans);
        self.span_count += spans.len();
        self.spans.extend(spans);
        self.raw.push(raw);
    }

    fn keep_logs(&mut self, resource_logs: Vec<ResourceLogs>, raw: Bytes) {
        if !self.discard {
            self.logs.extend(flatten_logs(resource_logs));
            self.raw.push(raw);
        }
    }

    fn keep_metrics(&mut self, resource_metrics: Vec<ResourceMetrics>, raw: Bytes) {
        if self.discard {
            self.metric_point_count += count_points(&resource_metrics);
            return;
        }
        let points = flatten_metrics(resource_metrics);
        self.metric_point_count += points.len();
        self.metrics.extend(points);
        self.raw.push(raw);
    }
}

/// Data points in an export, without flattening it.
fn count_points(resource_metrics: &[ResourceMetrics]) -> usize {
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    let metrics = resource_metrics
        .iter()
        .flat_map(|resource| &resource.scope_metrics)
        .flat_map(|scope| &scope.metrics);
    metrics
        .map(|metric| match &metric.data {
            Some(Data::Histogram(histogram)) => histogram.data_points.len(),
            Some(Data::Sum(sum)) => sum.data_points.len(),
            Some(Data::Gauge(gauge)) => gauge.data_points.len(),
            _ => 1,
        })
        .sum()
}

type Shared = Arc<Mutex<Store>>;

/// The receiver. It serves on its own thread with its own tokio runtime,
/// so it works the same from sync code and from any test's runtime, and it
/// stops when dropped.
pub struct OtlpReceiver {
    /// `http`, or `https` for a receiver started with TLS.
    scheme: &'static str,
    address: SocketAddr,
    grpc_address: SocketAddr,
    store: Shared,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl OtlpReceiver {
    /// Binds `127.0.0.1:0` and starts serving.
    pub fn start() -> anyhow::Result<Self> {
        Self::serve(false, None)
    }

    /// A receiver that decodes and counts what it gets, and keeps nothing:
    /// a collector that never falls behind, for benchmarks.
    pub fn start_discarding() -> anyhow::Result<Self> {
        Self::serve(true, None)
    }

    /// A receiver whose OTLP/HTTP side speaks only `https`, with `tls`:
    /// its [`endpoint`](Self::endpoint) is `https://localhost:PORT`.
    pub fn start_tls(tls: Arc<rustls::ServerConfig>) -> anyhow::Result<Self> {
        Self::serve(false, Some(tls))
    }

    fn serve(discard: bool, tls: Option<Arc<rustls::ServerConfig>>) -> anyhow::Result<Self> {
        let scheme = if tls.is_some() { "https" } else { "http" };
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let grpc_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        grpc_listener.set_nonblocking(true)?;
        let grpc_address = grpc_listener.local_addr()?;

        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        // Converting needs the runtime's reactor; `enter` (unlike
        // `block_on`) is allowed even when the caller is inside a runtime.
        let (listener, grpc_listener) = {
            let _entered = runtime.enter();
            (
                tokio::net::TcpListener::from_std(listener)?,
                tokio::net::TcpListener::from_std(grpc_listener)?,
            )
        };

        let store = Shared::new(Mutex::new(Store {
            discard,
            ..Store::default()
        }));
        let router = Router::new()
            .route("/v1/traces", post(export_traces))
            .route("/v1/logs", post(export_logs))
            .route("/v1/metrics", post(export_metrics))
            .layer(DefaultBodyLimit::max(BODY_LIMIT))
            .with_state(Arc::clone(&store));
        let grpc = tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(GrpcReceiver(Arc::clone(&store))))
            .add_service(LogsServiceServer::new(GrpcReceiver(Arc::clone(&store))))
            .add_service(MetricsServiceServer::new(GrpcReceiver(Arc::clone(&store))))
            .serve_with_incoming(TcpListenerStream::new(grpc_listener));

        let (shutdown, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("otlp-receiver".into())
            .spawn(move || {
                runtime.block_on(async {
                    // No graceful shutdown: exporters hold keep-alive
                    // connections, and the runtime's drop ends them at once.
                    let http = async move {
                        match tls {
                            Some(tls) => {
                                crate::tls::accept_tls(listener, router, tls).await;
                                Ok(())
                            }
                            None => axum::serve(listener, router).await,
                        }
                    };
                    tokio::select! {
                        result = http => {
                            if let Err(error) = result {
                                eprintln!("otlp receiver stopped: {error}");
                            }
                        }
                        result = grpc => {
                            if let Err(error) = result {
                                eprintln!("otlp/grpc receiver stopped: {error}");
                            }
                        }
                        _ = stopped => {}
                    }
                });
            })?;

        Ok(Self {
            scheme,
            address,
            grpc_address,
            store,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// The base URL for `OTEL_EXPORTER_OTLP_ENDPOINT`: `http://127.0.0.1:PORT`,
    /// or `https://localhost:PORT` (the name its certificate has).
    pub fn endpoint(&self) -> String {
        match self.scheme {
            "https" => format!("https://localhost:{}", self.address.port()),
            _ => format!("http://{}", self.address),
        }
    }

    /// The same receiver over OTLP/gRPC, for
    /// `OTEL_EXPORTER_OTLP_PROTOCOL=grpc`.
    pub fn grpc_endpoint(&self) -> String {
        format!("http://{}", self.grpc_address)
    }

    /// How many spans arrived, kept or not.
    pub fn span_count(&self) -> usize {
        lock(&self.store).span_count
    }

    /// How many of them were database statements' spans.
    pub fn statement_span_count(&self) -> usize {
        lock(&self.store).statement_span_count
    }

    /// The size of every span export received, as OTLP protobuf
    /// (uncompressed): what a collector or back end ingests.
    pub fn span_bytes(&self) -> usize {
        lock(&self.store).span_bytes
    }

    /// Every span received so far, in arrival order.
    pub fn spans(&self) -> Vec<Span> {
        self.store().spans.clone()
    }

    /// Every metric data point received so far, in arrival order.
    pub fn metrics(&self) -> Vec<MetricPoint> {
        self.store().metrics.clone()
    }

    /// How many metric data points arrived, kept or not.
    pub fn metric_point_count(&self) -> usize {
        lock(&self.store).metric_point_count
    }

    /// Waits until the metric points satisfy `until`; see
    /// [`wait_for_trace`](Self::wait_for_trace).
    pub async fn wait_for_metrics(
        &self,
        until: impl Fn(&[MetricPoint]) -> bool,
        timeout: Duration,
    ) -> Vec<MetricPoint> {
        poll(|| self.metrics(), until, timeout).await
    }

    /// Every log record received so far, in arrival order.
    pub fn logs(&self) -> Vec<LogRecord> {
        self.store().logs.clone()
    }

    /// The spans received so far with this trace id.
    pub fn trace(&self, trace_id: &str) -> Vec<Span> {
        let store = self.store();
        let spans = store
            .spans
            .iter()
            .filter(|span| span.trace_id.eq_ignore_ascii_case(trace_id));
        spans.cloned().collect()
    }

    /// Waits until the trace's spans satisfy `until`, and returns them.
    ///
    /// Spans arrive in batches, a service's every ~100 ms, so a test waits
    /// for what it needs rather than sleeping. At the timeout it returns
    /// what it has anyway: the caller's assertion then shows what is
    /// missing, which says more than "timed out". Needs a tokio runtime
    /// with time enabled (any `#[tokio::test]` has one).
    pub async fn wait_for_trace(
        &self,
        trace_id: &str,
        until: impl Fn(&[Span]) -> bool,
        timeout: Duration,
    ) -> Vec<Span> {
        poll(|| self.trace(trace_id), until, timeout).await
    }

    /// Waits until the log records satisfy `until`; see
    /// [`wait_for_trace`](Self::wait_for_trace).
    pub async fn wait_for_logs(
        &self,
        until: impl Fn(&[LogRecord]) -> bool,
        timeout: Duration,
    ) -> Vec<LogRecord> {
        poll(|| self.logs(), until, timeout).await
    }

    /// Whether any request body received so far holds these bytes. OTLP
    /// protobuf writes strings as plain UTF-8, so a secret that was exported
    /// anywhere (attribute, event, log body, resource) is found here.
    pub fn raw_payload_contains(&self, needle: &[u8]) -> bool {
        if needle.is_empty() {
            return true;
        }
        let store = self.store();
        store
            .raw
            .iter()
            .any(|body| body.windows(needle.len()).any(|window| window == needle))
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        // Joining frees the port before the next receiver starts; it is
        // quick, since stopping drops every connection.
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A panicking test thread must not hide the telemetry from the others.
fn lock(store: &Shared) -> MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn poll<T>(
    read: impl Fn() -> Vec<T>,
    until: impl Fn(&[T]) -> bool,
    timeout: Duration,
) -> Vec<T> {
    let deadline = Instant::now() + timeout;
    loop {
        let items = read();
        if until(&items) || Instant::now() >= deadline {
            return items;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

async fn export_traces(
    State(store): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    let request: ExportTraceServiceRequest = decode(&headers, &body)?;
    lock(&store).keep_spans(request.resource_spans, body);
    Ok(protobuf(&ExportTraceServiceResponse::default()))
}

async fn export_logs(
    State(store): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    let request: ExportLogsServiceRequest = decode(&headers, &body)?;
    lock(&store).keep_logs(request.resource_logs, body);
    Ok(protobuf(&ExportLogsServiceResponse::default()))
}

async fn export_metrics(
    State(store): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    let request: ExportMetricsServiceRequest = decode(&headers, &body)?;
    lock(&store).keep_metrics(request.resource_metrics, body);
    Ok(protobuf(&ExportMetricsServiceResponse::default()))
}

/// The OTLP/gRPC services, storing into the same place as the HTTP ones.
struct GrpcReceiver(Shared);

#[tonic::async_trait]
impl TraceService for GrpcReceiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let request = request.into_inner();
        let raw = Bytes::from(request.encode_to_vec());
        lock(&self.0).keep_spans(request.resource_spans, raw);
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl LogsService for GrpcReceiver {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        let request = request.into_inner();
        let raw = Bytes::from(request.encode_to_vec());
        lock(&self.0).keep_logs(request.resource_logs, raw);
        Ok(tonic::Response::new(ExportLogsServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for GrpcReceiver {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        let request = request.into_inner();
        let raw = Bytes::from(request.encode_to_vec());
        lock(&self.0).keep_metrics(request.resource_metrics, raw);
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

/// Why a request was not read: the status and text an exporter logs.
type Refusal = (StatusCode, String);

/// Decodes an uncompressed protobuf body.
fn decode<M: Message + Default>(headers: &HeaderMap, body: &[u8]) -> Result<M, Refusal> {
    let header = |name| headers.get(name).and_then(|value| value.to_str().ok());
    if !header(header::CONTENT_TYPE).is_some_and(|value| value.starts_with(PROTOBUF)) {
        let message = "only application/x-protobuf is accepted";
        return Err((StatusCode::UNSUPPORTED_MEDIA_TYPE, message.into()));
    }
    if header(header::CONTENT_ENCODING).is_some_and(|value| value != "identity") {
        let message = "compressed bodies are not accepted";
        return Err((StatusCode::UNSUPPORTED_MEDIA_TYPE, message.into()));
    }
    M::decode(body).map_err(|error| (StatusCode::BAD_REQUEST, error.to_string()))
}

fn protobuf(message: &impl Message) -> Response {
    ([(header::CONTENT_TYPE, PROTOBUF)], message.encode_to_vec()).into_response()
}
