//! The exporters' transport: a thread of the crate's own, with a small
//! Tokio runtime, that every OTLP request (HTTP or gRPC) travels on.
//!
//! - The SDK's batch processors run on their own threads, outside any
//!   runtime, where an async client cannot run; a blocking client would
//!   start a hidden runtime thread of its own anyway. Here the exporters'
//!   connections live on one named thread, whatever runtime the service
//!   uses (or none: `init` no longer has to be called inside Tokio).
//! - What the transport logs (hyper, reqwest, h2, tonic) happens on that
//!   thread, so the OTLP log pipeline can leave out exactly the exporters'
//!   own traffic ([`is_export_thread`]), which would otherwise loop, and
//!   still export every other log line of those crates.
//! - Errors name the endpoint and say why the request failed
//!   ([`NamedExporter`]): the upstream exporter reduces a failed request to
//!   "network error".
//! - An endpoint that stops answering is said once, in one line, and again
//!   once when it answers ([`Reachability`]), not once per batch and
//!   signal: with no collector running, a service's own lines stay readable.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex, PoisonError},
    thread::JoinHandle,
    time::Duration,
};

use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use tokio::{runtime::Handle, sync::oneshot};

use crate::config::OtlpTarget;

/// The export thread's name: events logged on it are the exporters' own.
const EXPORT_THREAD: &str = "otlp-export";

/// Whether the calling thread is the exporters' transport thread.
pub(crate) fn is_export_thread() -> bool {
    std::thread::current().name() == Some(EXPORT_THREAD)
}

/// The running export thread. Dropping it stops the thread, after the
/// providers have been shut down (the guard drops it last).
pub(crate) struct ExportThread {
    handle: Handle,
    reachability: Arc<Reachability>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ExportThread {
    pub(crate) fn start() -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(EXPORT_THREAD.into())
            .spawn(move || {
                // Runs the connections' tasks until told to stop.
                let _ = runtime.block_on(stopped);
            })?;
        Ok(Self {
            handle,
            reachability: Arc::default(),
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// What the exporters on this thread know of their endpoints.
    pub(crate) fn reachability(&self) -> Arc<Reachability> {
        Arc::clone(&self.reachability)
    }

    /// Enters the export runtime, so what is built now (a gRPC channel)
    /// spawns its tasks there.
    #[cfg(feature = "grpc")]
    pub(crate) fn enter(&self) -> tokio::runtime::EnterGuard<'_> {
        self.handle.enter()
    }

    /// An HTTP client for the exporter of `target`, with the crate's TLS
    /// and the target's certificates, running on this thread.
    #[expect(
        clippy::disallowed_methods,
        reason = "the exporters' client: tracing it would trace every export"
    )]
    pub(crate) fn http_client(&self, target: &OtlpTarget) -> Result<Transport, String> {
        let builder = reqwest::Client::builder()
            .timeout(target.timeout)
            .connect_timeout(target.timeout.min(CONNECT_TIMEOUT));
        #[cfg(feature = "tls")]
        let builder = builder.tls_backend_preconfigured(crate::tls::client_config(&target.tls)?);
        #[cfg(not(feature = "tls"))]
        if target.endpoint.scheme() == "https" {
            return Err("https needs the `tls` feature of service-telemetry".to_owned());
        }
        let client = builder.build().map_err(|error| error_chain(&error))?;
        Ok(Transport {
            client,
            runtime: self.handle.clone(),
            last_failure: Arc::default(),
        })
    }
}

/// A connection attempt that takes longer than this has failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

impl Drop for ExportThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Why the last request of a transport failed, for its exporter's error.
type LastFailure = Arc<Mutex<Option<String>>>;

/// The OTLP/HTTP exporters' client: each request runs on the export
/// thread, whoever awaits it.
#[derive(Debug)]
pub(crate) struct Transport {
    client: reqwest::Client,
    runtime: Handle,
    last_failure: LastFailure,
}

impl Transport {
    pub(crate) fn last_failure(&self) -> LastFailure {
        Arc::clone(&self.last_failure)
    }

    /// Waits on the export thread's timer, whoever awaits it (the SDK's
    /// batch thread has no runtime): a retry's backoff. The timer is made
    /// there too, inside the task.
    pub(crate) async fn sleep(&self, duration: Duration) {
        let _ = (self.runtime)
            .spawn(async move { tokio::time::sleep(duration).await })
            .await;
    }
}

#[async_trait::async_trait]
impl HttpClient for Transport {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let client = self.client.clone();
        let last_failure = Arc::clone(&self.last_failure);
        self.runtime
            .spawn(async move {
                let result = client.send_bytes(request).await;
                *last_failure.lock().unwrap_or_else(PoisonError::into_inner) =
                    result.as_ref().err().map(|error| error_chain(&**error));
                result
            })
            .await?
    }
}

/// An error and its sources on one line: reqwest's own message is only
/// "error sending request", the reason (refused, a certificate not
/// trusted) is in the sources.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause = cause.to_string();
        if !chain.contains(&cause) {
            chain.push_str(": ");
            chain.push_str(&cause);
        }
        source = source.and_then(std::error::Error::source);
    }
    chain
}

/// An exporter whose errors name the signal, the endpoint and, over HTTP,
/// why the request failed.
#[derive(Debug)]
pub(crate) struct NamedExporter<E> {
    inner: E,
    signal: &'static str,
    endpoint: String,
    last_failure: Option<LastFailure>,
    reachability: Arc<Reachability>,
}

impl<E> NamedExporter<E> {
    pub(crate) fn new(
        inner: E,
        signal: &'static str,
        target: &OtlpTarget,
        last_failure: Option<LastFailure>,
        reachability: Arc<Reachability>,
    ) -> Self {
        Self {
            inner,
            signal,
            endpoint: target.endpoint.to_string(),
            last_failure,
            reachability,
        }
    }

    fn name(&self, result: OTelSdkResult) -> OTelSdkResult {
        let result = self.named(result);
        match &result {
            Ok(()) => self.reachability.answered(&self.endpoint),
            Err(OTelSdkError::InternalFailure(reason)) => {
                self.reachability.failed(&self.endpoint, reason);
            }
            Err(_) => {}
        }
        result
    }

    fn named(&self, result: OTelSdkResult) -> OTelSdkResult {
        result.map_err(|error| {
            let reason = match error {
                OTelSdkError::InternalFailure(reason) => reason,
                other => other.to_string(),
            };
            let cause = (self.last_failure.as_ref())
                .and_then(|last| last.lock().unwrap_or_else(PoisonError::into_inner).take());
            OTelSdkError::InternalFailure(match cause {
                Some(cause) => format!(
                    "cannot export {} to {}: {reason} ({cause})",
                    self.signal, self.endpoint
                ),
                None => format!(
                    "cannot export {} to {}: {reason}",
                    self.signal, self.endpoint
                ),
            })
        })
    }
}

/// Which OTLP endpoints (by origin: every signal of a collector shares it)
/// failed their last export. A change is one line on the log: the first
/// failure, at WARN, and the first success after it, at INFO; the SDK's
/// own line per failed batch is dropped (`logs::SdkNoiseLimiter`).
#[derive(Debug, Default)]
pub(crate) struct Reachability {
    down: Mutex<HashSet<String>>,
}

impl Reachability {
    fn failed(&self, endpoint: &str, reason: &str) {
        let origin = origin(endpoint);
        let newly_down =
            (self.down.lock().unwrap_or_else(PoisonError::into_inner)).insert(origin.clone());
        if newly_down {
            tracing::warn!(
                target: "service_telemetry::export",
                { exception.message = reason },
                "cannot export to {origin}: telemetry is dropped until it answers"
            );
        }
    }

    fn answered(&self, endpoint: &str) {
        let origin = origin(endpoint);
        let was_down = (self.down.lock().unwrap_or_else(PoisonError::into_inner)).remove(&origin);
        if was_down {
            tracing::info!(
                target: "service_telemetry::export",
                "{origin} answers again: telemetry is exported"
            );
        }
    }
}

/// `scheme://host:port` of an endpoint URL.
fn origin(endpoint: &str) -> String {
    url::Url::parse(endpoint).map_or_else(
        |_| endpoint.to_owned(),
        |url| url.origin().ascii_serialization(),
    )
}

/// The SDK's line per failed export, which [`Reachability`] says better:
/// once, with the endpoint.
pub(crate) fn is_sdk_export_error(name: &str) -> bool {
    matches!(
        name,
        "BatchSpanProcessor.ExportError"
            | "BatchLogProcessor.ExportError"
            | "PeriodicReader.ExportError"
    )
}

impl<E: opentelemetry_sdk::trace::SpanExporter> opentelemetry_sdk::trace::SpanExporter
    for NamedExporter<E>
{
    async fn export(&self, batch: Vec<opentelemetry_sdk::trace::SpanData>) -> OTelSdkResult {
        self.name(self.inner.export(batch).await)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.inner.set_resource(resource);
    }
}

impl<E: opentelemetry_sdk::logs::LogExporter> opentelemetry_sdk::logs::LogExporter
    for NamedExporter<E>
{
    async fn export(&self, batch: opentelemetry_sdk::logs::LogBatch<'_>) -> OTelSdkResult {
        self.name(self.inner.export(batch).await)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn event_enabled(
        &self,
        level: opentelemetry::logs::Severity,
        target: &str,
        name: Option<&str>,
    ) -> bool {
        self.inner.event_enabled(level, target, name)
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.inner.set_resource(resource);
    }
}

impl<E: opentelemetry_sdk::metrics::exporter::PushMetricExporter>
    opentelemetry_sdk::metrics::exporter::PushMetricExporter for NamedExporter<E>
{
    async fn export(
        &self,
        metrics: &opentelemetry_sdk::metrics::data::ResourceMetrics,
    ) -> OTelSdkResult {
        self.name(self.inner.export(metrics).await)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> opentelemetry_sdk::metrics::Temporality {
        self.inner.temporality()
    }
}
