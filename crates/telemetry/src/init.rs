//! `init()`: propagators, providers and the `tracing` subscriber, in one
//! call; [`Telemetry`] for the same in steps, with layers of your own.

use std::time::{Duration, Instant};

use opentelemetry::{KeyValue, global, trace::TracerProvider as _};
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
#[cfg(feature = "grpc")]
use opentelemetry_otlp::WithTonicConfig;
use opentelemetry_otlp::{
    LogExporter, MetricExporter, SpanExporter, WithExportConfig, WithHttpConfig,
};
use opentelemetry_sdk::{
    Resource,
    logs::SdkLoggerProvider,
    metrics::{PeriodicReader, SdkMeterProvider},
    resource::TelemetryResourceDetector,
    trace::{Sampler as SdkSampler, SdkTracerProvider},
};
use opentelemetry_semantic_conventions::attribute as semconv;
use tracing::Subscriber;
use tracing_subscriber::{
    EnvFilter, Layer, layer::SubscriberExt, registry::LookupSpan, util::SubscriberInitExt,
};

use crate::{
    config::{
        ConfigError, ExporterKind, LogFormat, OtlpTarget, Propagator, Protocol, Sampler,
        TelemetryConfig, Temporality,
    },
    export::{ExportThread, NamedExporter},
    layers::{Events, LayerFilter, LogFilter},
    log_records, logs,
    otlp_traces::{self, HttpSpanExporter, OtlpSpanExporter, SpanCompression},
    propagation::W3cPropagator,
    span_events,
};

/// How often the same SDK warning (a failed export, say) may be logged.
const SDK_WARNING_INTERVAL: Duration = Duration::from_secs(30);

/// How long shutting down may wait for the providers' last exports when
/// no deadline is given: a hung collector must not keep a stopping service
/// alive past the platforms' grace periods (compose's 10 s).
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Why telemetry could not start. A service prints it and exits.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// A variable has a value that cannot be used.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// `RUST_LOG` is not a valid filter.
    #[error("invalid RUST_LOG: {0}")]
    Filter(#[from] tracing_subscriber::filter::ParseError),
    /// An OTLP exporter could not be built for this endpoint.
    #[error("cannot build the OTLP exporter for {endpoint}: {reason}")]
    Exporter {
        /// Where it would have exported.
        endpoint: String,
        /// Why it cannot.
        reason: String,
    },
    /// The exporters' thread could not be started.
    #[error("cannot start the OTLP export thread: {0}")]
    ExportThread(#[from] std::io::Error),
    /// gRPC was asked for and not compiled in.
    #[error(
        "OTEL_EXPORTER_OTLP_PROTOCOL=grpc, but this build has no gRPC exporter (service-telemetry's `grpc` feature)"
    )]
    GrpcNotBuilt,
    /// Another subscriber was installed first. Nothing global was set:
    /// build a [`Telemetry`], add [`Telemetry::layer`] to that subscriber
    /// and call [`Telemetry::install`] instead.
    #[error(
        "a global tracing subscriber is already installed: add Telemetry::layer() to it and call Telemetry::install() instead of init"
    )]
    SubscriberExists,
}

/// Keeps the providers alive; shutting it down (or dropping it) exports what
/// is still queued: traces, metrics (a last collection, so the last
/// requests count) and logs, side by side, within one deadline.
#[must_use = "dropping the guard shuts telemetry down"]
pub struct TelemetryGuard {
    tracer_provider: SdkTracerProvider,
    meter_provider: Option<SdkMeterProvider>,
    logger_provider: Option<SdkLoggerProvider>,
    // Dropped after the providers' shutdown: their last exports need it.
    _export_thread: ExportThread,
}

impl TelemetryGuard {
    /// Exports what is queued now, without shutting down: for a test that
    /// asserts on spans, or a process about to exit without unwinding.
    pub fn force_flush(&self) {
        let _ = self.tracer_provider.force_flush();
        if let Some(meter_provider) = &self.meter_provider {
            let _ = meter_provider.force_flush();
        }
        if let Some(logger_provider) = &self.logger_provider {
            let _ = logger_provider.force_flush();
        }
    }

    /// Flushes and shuts down the providers within 5 s. Idempotent.
    pub fn shutdown(&self) {
        self.shutdown_within(SHUTDOWN_TIMEOUT);
    }

    /// Flushes and shuts down the providers, returning within `deadline`
    /// whatever the collector does: what a stopping service has left of
    /// its grace period. Idempotent.
    pub fn shutdown_within(&self, deadline: Duration) {
        // Errors here mean "already shut down" or "collector unreachable":
        // nothing a stopping process can do about either. All three side by
        // side, each on a thread of its own that is waited for only until
        // the deadline: with the collector hung each export waits, and the
        // SDK's periodic metric reader ignores the timeout it is given (it
        // waits 5 s, opentelemetry_sdk 0.33). An export still hanging at
        // the deadline is abandoned with the process.
        let until = Instant::now() + deadline;
        let (done, finished) = std::sync::mpsc::channel::<()>();
        let mut started = 0;
        let mut start = |shutdown: Box<dyn FnOnce() + Send>| {
            let done = done.clone();
            let spawned = std::thread::Builder::new()
                .name("otel-shutdown".into())
                .spawn(move || {
                    shutdown();
                    let _ = done.send(());
                });
            if spawned.is_ok() {
                started += 1;
            }
        };
        let tracer_provider = self.tracer_provider.clone();
        start(Box::new(move || {
            let _ = tracer_provider.shutdown_with_timeout(deadline);
        }));
        if let Some(meter_provider) = self.meter_provider.clone() {
            start(Box::new(move || {
                let _ = meter_provider.shutdown_with_timeout(deadline);
            }));
        }
        if let Some(logger_provider) = self.logger_provider.clone() {
            start(Box::new(move || {
                let _ = logger_provider.shutdown_with_timeout(deadline);
            }));
        }
        for _ in 0..started {
            let left = until.saturating_duration_since(Instant::now());
            if finished.recv_timeout(left).is_err() {
                break;
            }
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Sets up traces, metrics and logs for a service from the standard
/// `OTEL_*` variables, `RUST_LOG` and `LOG_FORMAT`, and installs the
/// global `tracing` subscriber. Keep the guard until the service has
/// stopped.
///
/// `service_name` is the resource's `service.name` unless
/// `OTEL_SERVICE_NAME` or `OTEL_RESOURCE_ATTRIBUTES` names it;
/// `service_version` is `service.version`, the service's own:
/// `env!("CARGO_PKG_VERSION")`.
///
/// To add layers of your own, or keep your own subscriber, build a
/// [`Telemetry`] instead.
pub fn init(service_name: &str, service_version: &str) -> Result<TelemetryGuard, InitError> {
    Telemetry::from_env(service_name, service_version)?.init()
}

/// [`init`] with an explicit configuration.
pub fn init_with(config: &TelemetryConfig) -> Result<TelemetryGuard, InitError> {
    Telemetry::new(config)?.init()
}

/// The providers and the subscriber's layers, built and not yet installed:
/// for a service that adds layers of its own or keeps its own subscriber.
///
/// ```no_run
/// use service_telemetry::{Telemetry, tracing_subscriber::{self, prelude::*}};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let telemetry = Telemetry::from_env("my-service", env!("CARGO_PKG_VERSION"))?;
/// tracing_subscriber::registry()
///     .with(telemetry.layer())
///     // Your own layers and filters: this one sees only warnings.
///     .with(tracing_subscriber::fmt::layer().with_filter(
///         tracing_subscriber::filter::LevelFilter::WARN,
///     ))
///     .try_init()?;
/// let _guard = telemetry.install();
/// # Ok(())
/// # }
/// ```
pub struct Telemetry {
    config: TelemetryConfig,
    tracer_provider: SdkTracerProvider,
    meter_provider: Option<SdkMeterProvider>,
    logger_provider: Option<SdkLoggerProvider>,
    export_thread: ExportThread,
}

impl Telemetry {
    /// Reads the configuration from the environment and builds the
    /// providers; see [`init`] for the arguments.
    pub fn from_env(service_name: &str, service_version: &str) -> Result<Self, InitError> {
        let mut config = TelemetryConfig::from_env(service_name)?;
        config.service_version = Some(service_version.to_owned());
        Self::new(&config)
    }

    /// Builds the providers for `config`. Nothing global is set yet.
    pub fn new(config: &TelemetryConfig) -> Result<Self, InitError> {
        // Parsed now, so a bad RUST_LOG stops the service before anything.
        EnvFilter::try_new(&config.log_filter)?;
        #[cfg(feature = "tls")]
        crate::tls::install_default_provider();
        let export_thread = ExportThread::start()?;
        let resource = resource(config);
        Ok(Self {
            tracer_provider: tracer_provider(config, resource.clone(), &export_thread)?,
            meter_provider: meter_provider(config, resource.clone(), &export_thread)?,
            logger_provider: logger_provider(config, resource, &export_thread)?,
            config: config.clone(),
            export_thread,
        })
    }

    /// The tracer provider, for a subscriber or SDK of your own.
    pub fn tracer_provider(&self) -> &SdkTracerProvider {
        &self.tracer_provider
    }

    /// The meter provider; `None` when metrics are not exported.
    pub fn meter_provider(&self) -> Option<&SdkMeterProvider> {
        self.meter_provider.as_ref()
    }

    /// The logger provider; `None` when logs are not exported.
    pub fn logger_provider(&self) -> Option<&SdkLoggerProvider> {
        self.logger_provider.as_ref()
    }

    /// The crate's layers, each with its own filter: spans at INFO and
    /// above to OpenTelemetry whatever `RUST_LOG` says, named events as span
    /// events, log lines on stdout (`LOG_FORMAT`) and as OTLP log records
    /// as `RUST_LOG` says. Add it to your subscriber as the first layer;
    /// your own layers and filters go on top, and no global filter is
    /// needed (one would decide what is traced again).
    pub fn layer<S>(&self) -> impl Layer<S> + Send + Sync + 'static
    where
        S: Subscriber + for<'lookup> LookupSpan<'lookup> + Send + Sync,
    {
        let config = &self.config;
        // Parsed in `new` already.
        let log_filter = || LogFilter::new(&config.log_filter);
        let tracer = self.tracer_provider.tracer("service-telemetry");
        let spans = tracing_opentelemetry::layer()
            .with_tracer(tracer)
            // Thread, code-location, target and busy/idle attributes on
            // every span are noise in a trace view and cost on every request.
            .with_threads(false)
            .with_location(false)
            .with_target(false)
            .with_tracked_inactivity(false)
            // Not on every poll of every instrumented future: log events
            // make their span's context current themselves
            // (`logs::InSpanContext`).
            .with_context_activation(false)
            .with_filter(LayerFilter(Events::None));
        // Boxed, not an `Option`: tracing-subscriber's layer for `Option<L>`
        // does not pass `on_register_dispatch` on, which `InSpanContext` needs.
        let otlp_logs = match &self.logger_provider {
            Some(provider) => logs::InSpanContext::new(OpenTelemetryTracingBridge::new(
                &log_records::Conventional(provider.clone()),
            ))
            .with_filter(LayerFilter(Events::LoggedButExporters(log_filter())))
            .boxed(),
            None => tracing_subscriber::layer::Identity::new().boxed(),
        };
        let stdout = match config.log_format {
            LogFormat::Json => logs::InSpanContext::new(
                tracing_subscriber::fmt::layer()
                    .fmt_fields(logs::NoSpanFields)
                    .event_format(logs::JsonWithTraceContext),
            )
            .boxed(),
            LogFormat::Pretty => tracing_subscriber::fmt::layer().pretty().boxed(),
        }
        .with_filter(LayerFilter(Events::Logged(log_filter())));

        spans
            .and_then(
                span_events::DeliberateSpanEvents::default()
                    .with_filter(LayerFilter(Events::Named)),
            )
            .and_then(
                logs::SdkNoiseLimiter::new(SDK_WARNING_INTERVAL)
                    .with_filter(LayerFilter(Events::SdkWarnings)),
            )
            .and_then(stdout)
            .and_then(otlp_logs)
    }

    /// Sets the global propagators and providers (for the traced clients,
    /// `global::meter`, and spans made through `opentelemetry` directly)
    /// and hands back the guard that flushes them. The subscriber is
    /// yours: add [`layer`](Self::layer) to it first.
    pub fn install(self) -> TelemetryGuard {
        global::set_text_map_propagator(propagator(&self.config.propagators));
        global::set_tracer_provider(self.tracer_provider.clone());
        if let Some(meter_provider) = &self.meter_provider {
            global::set_meter_provider(meter_provider.clone());
        }
        TelemetryGuard {
            tracer_provider: self.tracer_provider,
            meter_provider: self.meter_provider,
            logger_provider: self.logger_provider,
            _export_thread: self.export_thread,
        }
    }

    /// Installs a subscriber made of [`layer`](Self::layer) as the global
    /// default, then [`install`](Self::install)s the providers. Fails,
    /// having set nothing global, if a subscriber is already installed.
    pub fn init(self) -> Result<TelemetryGuard, InitError> {
        if tracing::dispatcher::has_been_set() {
            return Err(InitError::SubscriberExists);
        }
        let layer = self.layer();
        // The providers first: the SDK's "global provider set" lines are
        // for nobody's terminal.
        let guard = self.install();
        tracing_subscriber::registry()
            .with(layer)
            .try_init()
            .map_err(|_| InitError::SubscriberExists)?;
        Ok(guard)
    }
}

fn propagator(propagators: &[Propagator]) -> W3cPropagator {
    W3cPropagator::new(
        propagators.contains(&Propagator::TraceContext),
        propagators.contains(&Propagator::Baggage),
    )
}

/// The resource as the SDK specification and the conventions want it:
/// `telemetry.sdk.*`, the service's version and a `service.instance.id`
/// of its own for each process (a random UUID, as the conventions advise,
/// so two replicas are two series), then what `OTEL_RESOURCE_ATTRIBUTES`
/// says, which wins (a platform may name the instance itself), and the
/// service's name by the specification's precedence.
fn resource(config: &TelemetryConfig) -> Resource {
    let mut defaults = vec![KeyValue::new(
        semconv::SERVICE_INSTANCE_ID,
        uuid::Uuid::new_v4().to_string(),
    )];
    if let Some(version) = &config.service_version {
        defaults.push(KeyValue::new(semconv::SERVICE_VERSION, version.clone()));
    }
    Resource::builder_empty()
        .with_detector(Box::new(TelemetryResourceDetector))
        .with_attributes(defaults)
        .with_attributes(
            config
                .resource_attributes
                .iter()
                .map(|(key, value)| KeyValue::new(key.clone(), value.clone())),
        )
        .with_service_name(config.service_name.clone())
        .build()
}

fn tracer_provider(
    config: &TelemetryConfig,
    resource: Resource,
    export_thread: &ExportThread,
) -> Result<SdkTracerProvider, InitError> {
    let mut builder = SdkTracerProvider::builder()
        .with_resource(resource)
        .with_sampler(sampler(config.sampler));
    // With the SDK disabled the provider still gives every span its ids (so
    // logs and problem responses keep a trace id) but has nowhere to send them.
    if !config.sdk_disabled {
        for exporter in &config.span_exporters {
            builder = match exporter {
                ExporterKind::Otlp => {
                    builder.with_batch_exporter(span_exporter(&config.traces, export_thread)?)
                }
                ExporterKind::Console => {
                    builder.with_simple_exporter(opentelemetry_stdout::SpanExporter::default())
                }
            };
        }
    }
    Ok(builder.build())
}

/// `None` when nothing is to be exported: the global meter provider stays
/// the no-op one, and recording a measurement costs next to nothing.
///
/// A periodic reader collects on its own thread every
/// `OTEL_METRIC_EXPORT_INTERVAL`; the SDK aggregates in place (a histogram
/// per attribute set), so memory is bounded by the attribute sets, which
/// are bounded by design, not by traffic. With the collector away an
/// export fails and the next one carries the cumulative totals.
fn meter_provider(
    config: &TelemetryConfig,
    resource: Resource,
    export_thread: &ExportThread,
) -> Result<Option<SdkMeterProvider>, InitError> {
    let metrics = &config.metrics;
    if config.sdk_disabled || metrics.exporters.is_empty() {
        return Ok(None);
    }
    let mut builder = SdkMeterProvider::builder().with_resource(resource);
    for exporter in &metrics.exporters {
        builder = match exporter {
            ExporterKind::Otlp => builder.with_reader(
                PeriodicReader::builder(metric_exporter(config, export_thread)?)
                    .with_interval(metrics.interval)
                    .build(),
            ),
            ExporterKind::Console => builder.with_reader(
                PeriodicReader::builder(opentelemetry_stdout::MetricExporter::default())
                    .with_interval(metrics.interval)
                    .build(),
            ),
        };
    }
    Ok(Some(builder.build()))
}

fn logger_provider(
    config: &TelemetryConfig,
    resource: Resource,
    export_thread: &ExportThread,
) -> Result<Option<SdkLoggerProvider>, InitError> {
    let Some(target) = config.logs.as_ref().filter(|_| !config.sdk_disabled) else {
        return Ok(None);
    };
    Ok(Some(
        SdkLoggerProvider::builder()
            .with_resource(resource)
            .with_batch_exporter(log_exporter(target, export_thread)?)
            .build(),
    ))
}

/// Builds one signal's OTLP exporter for `target`: over HTTP with the
/// export thread's client, over gRPC with a channel on the export thread.
/// The upstream builders read `OTEL_EXPORTER_OTLP_HEADERS` and the
/// compression variables themselves.
macro_rules! otlp_exporter {
    ($exporter:ty, $signal:literal, $target:expr, $export_thread:expr $(, $with:ident($arg:expr))?) => {{
        let target: &OtlpTarget = $target;
        let export_thread: &ExportThread = $export_thread;
        let failed = |reason: String| InitError::Exporter {
            endpoint: target.endpoint.to_string(),
            reason,
        };
        match target.protocol {
            Protocol::HttpProtobuf => {
                let transport = export_thread.http_client(target).map_err(failed)?;
                let last_failure = transport.last_failure();
                let exporter = <$exporter>::builder()
                    .with_http()
                    .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                    .with_endpoint(target.endpoint.as_str())
                    .with_timeout(target.timeout)
                    .with_http_client(transport)
                    $(.$with($arg))?
                    .build()
                    .map_err(|error| failed(error.to_string()))?;
                NamedExporter::new(
                    exporter,
                    $signal,
                    target,
                    Some(last_failure),
                    export_thread.reachability(),
                )
            }
            #[cfg(feature = "grpc")]
            Protocol::Grpc => {
                let _on_export_thread = export_thread.enter();
                let exporter = <$exporter>::builder()
                    .with_tonic()
                    .with_endpoint(target.endpoint.as_str())
                    .with_timeout(target.timeout)
                    .with_tls_config(grpc_tls(target))
                    $(.$with($arg))?
                    .build()
                    .map_err(|error| failed(error.to_string()))?;
                NamedExporter::new(exporter, $signal, target, None, export_thread.reachability())
            }
            #[cfg(not(feature = "grpc"))]
            Protocol::Grpc => return Err(InitError::GrpcNotBuilt),
        }
    }};
}

/// Traces over `http/protobuf` go through the crate's own exporter, which
/// encodes spans without building upstream's messages first
/// (`otlp_traces`); over gRPC, or with a compression it does not do,
/// through upstream's.
fn span_exporter(
    target: &OtlpTarget,
    export_thread: &ExportThread,
) -> Result<OtlpSpanExporter, InitError> {
    let compression = otlp_traces::span_compression();
    if target.protocol != Protocol::HttpProtobuf || compression == SpanCompression::Unsupported {
        return Ok(OtlpSpanExporter::Upstream(otlp_exporter!(
            SpanExporter,
            "spans",
            target,
            export_thread
        )));
    }
    let failed = |reason: String| InitError::Exporter {
        endpoint: target.endpoint.to_string(),
        reason,
    };
    let transport = export_thread.http_client(target).map_err(failed)?;
    let last_failure = transport.last_failure();
    let gzip = compression == SpanCompression::Gzip;
    let exporter = HttpSpanExporter::new(transport, target, gzip).map_err(failed)?;
    Ok(OtlpSpanExporter::Encoded(NamedExporter::new(
        exporter,
        "spans",
        target,
        Some(last_failure),
        export_thread.reachability(),
    )))
}

fn log_exporter(
    target: &OtlpTarget,
    export_thread: &ExportThread,
) -> Result<NamedExporter<LogExporter>, InitError> {
    Ok(otlp_exporter!(LogExporter, "logs", target, export_thread))
}

fn metric_exporter(
    config: &TelemetryConfig,
    export_thread: &ExportThread,
) -> Result<NamedExporter<MetricExporter>, InitError> {
    let temporality = match config.metrics.temporality {
        Temporality::Cumulative => opentelemetry_sdk::metrics::Temporality::Cumulative,
        Temporality::Delta => opentelemetry_sdk::metrics::Temporality::Delta,
        Temporality::LowMemory => opentelemetry_sdk::metrics::Temporality::LowMemory,
    };
    Ok(otlp_exporter!(
        MetricExporter,
        "metrics",
        &config.metrics.otlp,
        export_thread,
        with_temporality(temporality)
    ))
}

/// The gRPC channel's TLS: the platform's roots and the target's files,
/// used only for an `https` endpoint.
#[cfg(feature = "grpc")]
fn grpc_tls(target: &OtlpTarget) -> tonic::transport::ClientTlsConfig {
    let mut tls = tonic::transport::ClientTlsConfig::new().with_native_roots();
    if let Some(pem) = &target.tls.certificate {
        tls = tls.ca_certificate(tonic::transport::Certificate::from_pem(pem));
    }
    if let Some((chain, key)) = &target.tls.client_identity {
        tls = tls.identity(tonic::transport::Identity::from_pem(chain, key));
    }
    tls
}

fn sampler(sampler: Sampler) -> SdkSampler {
    match sampler {
        Sampler::AlwaysOn => SdkSampler::AlwaysOn,
        Sampler::AlwaysOff => SdkSampler::AlwaysOff,
        Sampler::TraceIdRatio(ratio) => SdkSampler::TraceIdRatioBased(ratio),
        Sampler::ParentBasedAlwaysOn => SdkSampler::ParentBased(Box::new(SdkSampler::AlwaysOn)),
        Sampler::ParentBasedAlwaysOff => SdkSampler::ParentBased(Box::new(SdkSampler::AlwaysOff)),
        Sampler::ParentBasedTraceIdRatio(ratio) => {
            SdkSampler::ParentBased(Box::new(SdkSampler::TraceIdRatioBased(ratio)))
        }
    }
}
