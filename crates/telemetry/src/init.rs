//! `init()`: propagators, providers and the `tracing` subscriber, in one call.

use std::time::Duration;

use opentelemetry::{
    KeyValue, global,
    propagation::{TextMapCompositePropagator, TextMapPropagator},
    trace::TracerProvider as _,
};
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_otlp::{LogExporter, MetricExporter, SpanExporter, WithExportConfig};
use opentelemetry_sdk::{
    Resource,
    logs::SdkLoggerProvider,
    metrics::{PeriodicReader, SdkMeterProvider},
    propagation::{BaggagePropagator, TraceContextPropagator},
    trace::{Sampler as SdkSampler, SdkTracerProvider},
};
use tracing_subscriber::{EnvFilter, Layer, layer::SubscriberExt, util::SubscriberInitExt};

use crate::{
    config::{
        ConfigError, ExporterKind, LogFormat, Propagator, Protocol, Sampler, TelemetryConfig,
        Temporality,
    },
    log_records, logs, span_events,
};

/// How often the same SDK warning (a failed export, say) may be logged.
const SDK_WARNING_INTERVAL: Duration = Duration::from_secs(30);

/// How long shutting down may wait for each provider's last export: a hung
/// collector must not keep a stopping service alive.
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
    /// An OTLP exporter could not be built from the configuration.
    #[error("cannot build the OTLP exporter: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
    /// gRPC was asked for and not compiled in.
    #[error(
        "OTEL_EXPORTER_OTLP_PROTOCOL=grpc, but this build has no gRPC exporter (the telemetry crate's `grpc` feature)"
    )]
    GrpcNotBuilt,
    /// Another subscriber was installed first.
    #[error("a global tracing subscriber is already installed: {0}")]
    Subscriber(#[from] tracing_subscriber::util::TryInitError),
}

/// Keeps the providers alive; shutting it down (or dropping it) exports what
/// is still queued: traces and metrics (a last collection, so the last
/// requests count) together, then logs, so the log lines that describe a
/// failed export still go out. At most twice 5 s in all.
#[must_use = "dropping the guard shuts telemetry down"]
pub struct TelemetryGuard {
    tracer_provider: SdkTracerProvider,
    meter_provider: Option<SdkMeterProvider>,
    logger_provider: Option<SdkLoggerProvider>,
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

    /// Flushes and shuts down the providers. Idempotent.
    pub fn shutdown(&self) {
        // Errors here mean "already shut down" or "collector unreachable":
        // nothing a stopping process can do about either.
        // Traces and metrics side by side: with the collector hung each
        // waits its whole timeout, and a stopping service must not wait
        // for them one after the other.
        std::thread::scope(|scope| {
            if let Some(meter_provider) = &self.meter_provider {
                scope.spawn(|| meter_provider.shutdown_with_timeout(SHUTDOWN_TIMEOUT));
            }
            let _ = self.tracer_provider.shutdown_with_timeout(SHUTDOWN_TIMEOUT);
        });
        if let Some(logger_provider) = &self.logger_provider {
            let _ = logger_provider.shutdown_with_timeout(SHUTDOWN_TIMEOUT);
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Sets up tracing and logging for a service from the standard `OTEL_*`
/// variables, `RUST_LOG` and `LOG_FORMAT`.
///
/// Call it once, inside the Tokio runtime (the gRPC exporter's connection
/// lives there), and keep the guard until the service has stopped.
pub fn init(default_service_name: &str) -> Result<TelemetryGuard, InitError> {
    init_with(&TelemetryConfig::from_env(default_service_name)?)
}

/// [`init`] with an explicit configuration.
pub fn init_with(config: &TelemetryConfig) -> Result<TelemetryGuard, InitError> {
    let filter = EnvFilter::try_new(&config.log_filter)?;
    global::set_text_map_propagator(propagator(&config.propagators));

    let resource = resource(config);
    let tracer_provider = tracer_provider(config, resource.clone())?;
    let meter_provider = meter_provider(config, resource.clone())?;
    let logger_provider = logger_provider(config, resource)?;
    global::set_tracer_provider(tracer_provider.clone());
    if let Some(meter_provider) = &meter_provider {
        global::set_meter_provider(meter_provider.clone());
    }

    let tracer = tracer_provider.tracer("telemetry");
    let otel_traces = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        // Thread, code-location, target and busy/idle attributes on every
        // span are noise in a trace view and cost on every request.
        .with_threads(false)
        .with_location(false)
        .with_target(false)
        .with_tracked_inactivity(false)
        // Not on every poll of every instrumented future: log events make
        // their span's context current themselves (`logs::InSpanContext`).
        .with_context_activation(false);
    // The OTLP log pipeline must not log about itself: an export failure
    // would produce a log record to export, and so on.
    // Boxed, not an `Option`: tracing-subscriber's layer for `Option<L>`
    // does not pass `on_register_dispatch` on, which `InSpanContext` needs.
    let otel_logs = match &logger_provider {
        Some(provider) => logs::InSpanContext::new(OpenTelemetryTracingBridge::new(
            &log_records::Conventional(provider.clone()),
        ))
        .with_filter(tracing_subscriber::filter::filter_fn(|metadata| {
            !logs::is_transport_target(metadata.target())
        }))
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
    };

    // Order matters: layers are asked about an event from the last added to
    // the first, and nothing but the global filter may come after (below)
    // the OpenTelemetry layer's `NoEvents` (see there).
    tracing_subscriber::registry()
        .with(filter)
        .with(otel_traces.with_filter(span_events::NoEvents))
        .with(span_events::DeliberateSpanEvents::default())
        .with(logs::SdkNoiseLimiter::new(SDK_WARNING_INTERVAL))
        .with(stdout)
        .with(otel_logs)
        .try_init()?;

    Ok(TelemetryGuard {
        tracer_provider,
        meter_provider,
        logger_provider,
    })
}

fn propagator(propagators: &[Propagator]) -> TextMapCompositePropagator {
    let propagators = propagators
        .iter()
        .map(|propagator| -> Box<dyn TextMapPropagator + Send + Sync> {
            match propagator {
                Propagator::TraceContext => Box::new(TraceContextPropagator::new()),
                Propagator::Baggage => Box::new(BaggagePropagator::new()),
            }
        })
        .collect();
    TextMapCompositePropagator::new(propagators)
}

fn resource(config: &TelemetryConfig) -> Resource {
    Resource::builder_empty()
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
) -> Result<SdkTracerProvider, InitError> {
    let mut builder = SdkTracerProvider::builder()
        .with_resource(resource)
        .with_sampler(sampler(config.sampler));
    // With the SDK disabled the provider still gives every span its ids (so
    // logs and problem responses keep a trace id) but has nowhere to send them.
    if !config.sdk_disabled {
        for exporter in &config.span_exporters {
            builder = match exporter {
                ExporterKind::Otlp => builder.with_batch_exporter(span_exporter(config)?),
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
) -> Result<Option<SdkMeterProvider>, InitError> {
    let metrics = &config.metrics;
    if config.sdk_disabled || metrics.exporters.is_empty() {
        return Ok(None);
    }
    let mut builder = SdkMeterProvider::builder().with_resource(resource);
    for exporter in &metrics.exporters {
        builder = match exporter {
            ExporterKind::Otlp => builder.with_reader(
                PeriodicReader::builder(metric_exporter(config)?)
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

fn metric_exporter(config: &TelemetryConfig) -> Result<MetricExporter, InitError> {
    let target = &config.metrics.otlp;
    let temporality = match config.metrics.temporality {
        Temporality::Cumulative => opentelemetry_sdk::metrics::Temporality::Cumulative,
        Temporality::Delta => opentelemetry_sdk::metrics::Temporality::Delta,
        Temporality::LowMemory => opentelemetry_sdk::metrics::Temporality::LowMemory,
    };
    Ok(match target.protocol {
        Protocol::HttpProtobuf => MetricExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(target.endpoint.as_str())
            .with_temporality(temporality)
            .build()?,
        #[cfg(feature = "grpc")]
        Protocol::Grpc => MetricExporter::builder()
            .with_tonic()
            .with_endpoint(target.endpoint.as_str())
            .with_temporality(temporality)
            .build()?,
        #[cfg(not(feature = "grpc"))]
        Protocol::Grpc => return Err(InitError::GrpcNotBuilt),
    })
}

fn logger_provider(
    config: &TelemetryConfig,
    resource: Resource,
) -> Result<Option<SdkLoggerProvider>, InitError> {
    let Some(target) = config.logs.as_ref().filter(|_| !config.sdk_disabled) else {
        return Ok(None);
    };
    let exporter = match target.protocol {
        Protocol::HttpProtobuf => LogExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(target.endpoint.as_str())
            .build()?,
        #[cfg(feature = "grpc")]
        Protocol::Grpc => LogExporter::builder()
            .with_tonic()
            .with_endpoint(target.endpoint.as_str())
            .build()?,
        #[cfg(not(feature = "grpc"))]
        Protocol::Grpc => return Err(InitError::GrpcNotBuilt),
    };
    Ok(Some(
        SdkLoggerProvider::builder()
            .with_resource(resource)
            .with_batch_exporter(exporter)
            .build(),
    ))
}

fn span_exporter(config: &TelemetryConfig) -> Result<SpanExporter, InitError> {
    let target = &config.traces;
    Ok(match target.protocol {
        Protocol::HttpProtobuf => SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(target.endpoint.as_str())
            .build()?,
        #[cfg(feature = "grpc")]
        Protocol::Grpc => SpanExporter::builder()
            .with_tonic()
            .with_endpoint(target.endpoint.as_str())
            .build()?,
        #[cfg(not(feature = "grpc"))]
        Protocol::Grpc => return Err(InitError::GrpcNotBuilt),
    })
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
