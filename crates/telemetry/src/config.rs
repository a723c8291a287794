//! The standard `OTEL_*` variables, parsed once at start-up.
//!
//! The OpenTelemetry SDK reads some of these by itself, but it silently falls
//! back to a default on a bad value. A service that exports nowhere because of
//! a typo is worse than one that refuses to start, so every variable is parsed
//! here and a bad value is an error that names it.
//!
//! Read here: `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`,
//! `OTEL_SDK_DISABLED`, `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`,
//! `OTEL_TRACES_EXPORTER`, `OTEL_METRICS_EXPORTER`, `OTEL_LOGS_EXPORTER`,
//! `OTEL_PROPAGATORS`, `OTEL_METRIC_EXPORT_INTERVAL`,
//! `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`, `RUST_LOG`,
//! `LOG_FORMAT`, and for each signal `OTEL_EXPORTER_OTLP_{ENDPOINT,
//! PROTOCOL, TIMEOUT, CERTIFICATE, CLIENT_CERTIFICATE, CLIENT_KEY}`, each
//! also as `OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_*`, which wins.
//!
//! Read by the OTLP exporters themselves: `OTEL_EXPORTER_OTLP_HEADERS`
//! (`key=value,...`, percent-encoded: an API key, say) and
//! `OTEL_EXPORTER_OTLP_COMPRESSION`, with their per-signal forms; by the
//! SDK: `OTEL_BSP_*` (the span batch) and `OTEL_BLRP_*` (the log batch).

use std::{collections::HashMap, fmt, path::Path, time::Duration};

use url::Url;

/// Where one signal (traces, metrics or logs) is exported.
#[derive(Clone, Debug, PartialEq)]
pub struct OtlpTarget {
    /// `http/protobuf` or `grpc`.
    pub protocol: Protocol,
    /// The full URL the exporter posts to: for `http/protobuf` it ends in
    /// `/v1/traces` or `/v1/logs` unless a signal-specific variable set it.
    pub endpoint: Url,
    /// `OTEL_EXPORTER_OTLP_TIMEOUT`: how long one export may take.
    pub timeout: Duration,
    /// The certificate and client identity files, already read.
    pub tls: TlsFiles,
}

/// Extra trust and a client identity for an `https` endpoint, as the OTLP
/// exporter variables name them: the PEM files' contents.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// `OTEL_EXPORTER_OTLP_CERTIFICATE`: certificates to trust besides the
    /// platform's roots.
    pub certificate: Option<Vec<u8>>,
    /// `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE` and
    /// `OTEL_EXPORTER_OTLP_CLIENT_KEY`: the client's chain and key, for
    /// mutual TLS.
    pub client_identity: Option<(Vec<u8>, Vec<u8>)>,
}

/// `OTEL_EXPORTER_OTLP_PROTOCOL` and its per-signal variants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// `http/protobuf`, the default.
    HttpProtobuf,
    /// `grpc` (the `grpc` feature).
    Grpc,
}

/// `OTEL_TRACES_SAMPLER` with its `OTEL_TRACES_SAMPLER_ARG`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sampler {
    /// `always_on`.
    AlwaysOn,
    /// `always_off`.
    AlwaysOff,
    /// `traceidratio`: this share of traces, whatever the caller decided.
    TraceIdRatio(f64),
    /// `parentbased_always_on`, the default: the caller decides, else sample.
    ParentBasedAlwaysOn,
    /// `parentbased_always_off`.
    ParentBasedAlwaysOff,
    /// `parentbased_traceidratio`: the caller decides, else this share.
    ParentBasedTraceIdRatio(f64),
}

/// Where a signal's exporter sends it (`OTEL_TRACES_EXPORTER`,
/// `OTEL_METRICS_EXPORTER`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExporterKind {
    /// `otlp`: to the OTLP endpoint.
    Otlp,
    /// `console`: to stdout, for a developer.
    Console,
}

/// `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Temporality {
    /// `cumulative`, the default: totals since start.
    Cumulative,
    /// `delta`: what changed since the last export.
    Delta,
    /// `lowmemory`: delta for counters and histograms, cumulative otherwise.
    LowMemory,
}

/// How metrics are exported.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricsConfig {
    /// Empty when `OTEL_METRICS_EXPORTER=none`.
    pub exporters: Vec<ExporterKind>,
    /// Where OTLP metrics go.
    pub otlp: OtlpTarget,
    /// `OTEL_METRIC_EXPORT_INTERVAL`.
    pub interval: Duration,
    /// `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`.
    pub temporality: Temporality,
}

/// One of `OTEL_PROPAGATORS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Propagator {
    /// `tracecontext`: W3C `traceparent` and `tracestate`.
    TraceContext,
    /// `baggage`: W3C `baggage`.
    Baggage,
}

/// `LOG_FORMAT`: how log lines look on stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// `json`, the default: one object a line, with `trace_id` and `span_id`.
    Json,
    /// `pretty`: for a person at a terminal.
    Pretty,
}

/// Everything the telemetry set-up needs, read from the environment.
#[derive(Clone, Debug, PartialEq)]
pub struct TelemetryConfig {
    /// `service.name` of the resource.
    pub service_name: String,
    /// `service.version` of the resource, unless `OTEL_RESOURCE_ATTRIBUTES`
    /// gives one: the service's own version, which only its code knows.
    pub service_version: Option<String>,
    /// `OTEL_RESOURCE_ATTRIBUTES`, already percent-decoded.
    pub resource_attributes: Vec<(String, String)>,
    /// `OTEL_SDK_DISABLED=true`: spans still get ids (logs keep their
    /// `trace_id`), but nothing is exported.
    pub sdk_disabled: bool,
    /// `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`.
    pub sampler: Sampler,
    /// `OTEL_TRACES_EXPORTER`; empty for `none`.
    pub span_exporters: Vec<ExporterKind>,
    /// Where OTLP traces go.
    pub traces: OtlpTarget,
    /// `OTEL_METRICS_EXPORTER` and where metrics go.
    pub metrics: MetricsConfig,
    /// `None` when `OTEL_LOGS_EXPORTER=none`.
    pub logs: Option<OtlpTarget>,
    /// `OTEL_PROPAGATORS`.
    pub propagators: Vec<Propagator>,
    /// `RUST_LOG`, for spans and log lines alike.
    pub log_filter: String,
    /// `LOG_FORMAT`.
    pub log_format: LogFormat,
}

/// A variable with a value this crate cannot use. Its `Display` is the one
/// line a service prints before it refuses to start.
#[derive(Debug, thiserror::Error)]
#[error("invalid {variable}={value:?}: {reason}")]
pub struct ConfigError {
    /// The variable's name.
    pub variable: &'static str,
    /// What it was set to.
    pub value: String,
    /// Why that value cannot be used.
    pub reason: String,
}

impl TelemetryConfig {
    /// Reads the process environment. `default_service_name` is used when
    /// neither `OTEL_SERVICE_NAME` nor `service.name` in
    /// `OTEL_RESOURCE_ATTRIBUTES` names the service.
    pub fn from_env(default_service_name: &str) -> Result<Self, ConfigError> {
        Self::from_vars(default_service_name, std::env::vars().collect())
    }

    /// Like [`from_env`](Self::from_env), from an explicit set of variables.
    pub fn from_vars(
        default_service_name: &str,
        vars: HashMap<String, String>,
    ) -> Result<Self, ConfigError> {
        let env = Env(vars);
        let resource_attributes = env
            .get("OTEL_RESOURCE_ATTRIBUTES")
            .map(|value| parse_resource_attributes("OTEL_RESOURCE_ATTRIBUTES", value))
            .transpose()?
            .unwrap_or_default();
        // The specification's precedence: OTEL_SERVICE_NAME, then
        // service.name from OTEL_RESOURCE_ATTRIBUTES, then the default.
        let service_name = env
            .get("OTEL_SERVICE_NAME")
            .map(str::to_owned)
            .or_else(|| {
                resource_attributes
                    .iter()
                    .find(|(key, _)| key == "service.name")
                    .map(|(_, value)| value.clone())
            })
            .unwrap_or_else(|| default_service_name.to_owned());

        Ok(Self {
            service_name,
            service_version: None,
            resource_attributes,
            sdk_disabled: env.parse_or("OTEL_SDK_DISABLED", false, parse_bool)?,
            sampler: parse_sampler(&env)?,
            span_exporters: env.parse_or(
                "OTEL_TRACES_EXPORTER",
                vec![ExporterKind::Otlp],
                parse_exporters,
            )?,
            traces: otlp_target(&env, &TRACES)?,
            metrics: metrics_config(&env)?,
            logs: match env.get("OTEL_LOGS_EXPORTER") {
                None | Some("otlp") => Some(otlp_target(&env, &LOGS)?),
                Some("none") => None,
                Some(other) => {
                    return Err(Env::error(
                        "OTEL_LOGS_EXPORTER",
                        other,
                        "expected otlp or none",
                    ));
                }
            },
            propagators: env.parse_or(
                "OTEL_PROPAGATORS",
                vec![Propagator::TraceContext, Propagator::Baggage],
                parse_propagators,
            )?,
            log_filter: env.get("RUST_LOG").unwrap_or("info").to_owned(),
            log_format: env.parse_or("LOG_FORMAT", LogFormat::Json, |value| match value {
                "json" => Ok(LogFormat::Json),
                "pretty" => Ok(LogFormat::Pretty),
                _ => Err("expected json or pretty".to_owned()),
            })?,
        })
    }
}

/// The environment, where an empty value counts as unset (as the
/// specification says).
struct Env(HashMap<String, String>);

impl Env {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(|value| value.trim())
            .filter(|value| !value.is_empty())
    }

    fn parse_or<T>(
        &self,
        name: &'static str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(value) => parse(value).map_err(|reason| Self::error(name, value, reason)),
        }
    }

    fn error(variable: &'static str, value: &str, reason: impl fmt::Display) -> ConfigError {
        ConfigError {
            variable,
            value: value.to_owned(),
            reason: reason.to_string(),
        }
    }
}

fn parse_bool(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("expected true or false".to_owned()),
    }
}

fn parse_sampler(env: &Env) -> Result<Sampler, ConfigError> {
    const VAR: &str = "OTEL_TRACES_SAMPLER";
    // The ratio defaults to 1.0 when OTEL_TRACES_SAMPLER_ARG is unset.
    let ratio = || {
        env.parse_or("OTEL_TRACES_SAMPLER_ARG", 1.0, |value| {
            value
                .parse::<f64>()
                .ok()
                .filter(|ratio| (0.0..=1.0).contains(ratio))
                .ok_or_else(|| "expected a probability between 0 and 1".to_owned())
        })
    };
    Ok(match env.get(VAR) {
        None | Some("parentbased_always_on") => Sampler::ParentBasedAlwaysOn,
        Some("always_on") => Sampler::AlwaysOn,
        Some("always_off") => Sampler::AlwaysOff,
        Some("traceidratio") => Sampler::TraceIdRatio(ratio()?),
        Some("parentbased_always_off") => Sampler::ParentBasedAlwaysOff,
        Some("parentbased_traceidratio") => Sampler::ParentBasedTraceIdRatio(ratio()?),
        Some(other) => {
            return Err(Env::error(
                VAR,
                other,
                "expected always_on, always_off, traceidratio, parentbased_always_on, \
                 parentbased_always_off or parentbased_traceidratio",
            ));
        }
    })
}

fn parse_exporters(value: &str) -> Result<Vec<ExporterKind>, String> {
    let mut exporters = Vec::new();
    for name in value.split(',').map(str::trim) {
        match name {
            "otlp" => exporters.push(ExporterKind::Otlp),
            "console" => exporters.push(ExporterKind::Console),
            // "none" means no exporter at all, whatever else is listed.
            "none" => return Ok(Vec::new()),
            _ => {
                return Err(format!(
                    "unknown exporter {name:?}: expected otlp, console or none"
                ));
            }
        }
    }
    Ok(exporters)
}

fn parse_propagators(value: &str) -> Result<Vec<Propagator>, String> {
    let mut propagators = Vec::new();
    for name in value.split(',').map(str::trim) {
        match name {
            "tracecontext" => propagators.push(Propagator::TraceContext),
            "baggage" => propagators.push(Propagator::Baggage),
            "none" => return Ok(Vec::new()),
            _ => {
                return Err(format!(
                    "unknown propagator {name:?}: expected tracecontext, baggage or none"
                ));
            }
        }
    }
    Ok(propagators)
}

fn parse_protocol(value: &str) -> Result<Protocol, String> {
    match value {
        "http/protobuf" => Ok(Protocol::HttpProtobuf),
        "grpc" => Ok(Protocol::Grpc),
        _ => Err("expected http/protobuf or grpc".to_owned()),
    }
}

fn parse_endpoint(value: &str) -> Result<Url, String> {
    let url = Url::parse(value).map_err(|error| error.to_string())?;
    match url.scheme() {
        "http" | "https" if url.has_host() => Ok(url),
        _ => Err("expected an http or https URL".to_owned()),
    }
}

/// The variables and path of one signal: each of its variables wins over
/// the generic `OTEL_EXPORTER_OTLP_*` one.
struct Signal {
    protocol_var: &'static str,
    endpoint_var: &'static str,
    timeout_var: &'static str,
    certificate_var: &'static str,
    client_certificate_var: &'static str,
    client_key_var: &'static str,
    http_path: &'static str,
}

macro_rules! signal {
    ($signal:literal, $path:literal) => {
        Signal {
            protocol_var: concat!("OTEL_EXPORTER_OTLP_", $signal, "_PROTOCOL"),
            endpoint_var: concat!("OTEL_EXPORTER_OTLP_", $signal, "_ENDPOINT"),
            timeout_var: concat!("OTEL_EXPORTER_OTLP_", $signal, "_TIMEOUT"),
            certificate_var: concat!("OTEL_EXPORTER_OTLP_", $signal, "_CERTIFICATE"),
            client_certificate_var: concat!("OTEL_EXPORTER_OTLP_", $signal, "_CLIENT_CERTIFICATE"),
            client_key_var: concat!("OTEL_EXPORTER_OTLP_", $signal, "_CLIENT_KEY"),
            http_path: $path,
        }
    };
}

const TRACES: Signal = signal!("TRACES", "/v1/traces");
const LOGS: Signal = signal!("LOGS", "/v1/logs");
const METRICS: Signal = signal!("METRICS", "/v1/metrics");

/// The specification's default export timeout.
const DEFAULT_EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

fn metrics_config(env: &Env) -> Result<MetricsConfig, ConfigError> {
    Ok(MetricsConfig {
        exporters: env.parse_or(
            "OTEL_METRICS_EXPORTER",
            vec![ExporterKind::Otlp],
            parse_exporters,
        )?,
        otlp: otlp_target(env, &METRICS)?,
        interval: env.parse_or(
            "OTEL_METRIC_EXPORT_INTERVAL",
            Duration::from_mins(1),
            parse_millis,
        )?,
        temporality: env.parse_or(
            "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
            Temporality::Cumulative,
            |value| match value.to_ascii_lowercase().as_str() {
                "cumulative" => Ok(Temporality::Cumulative),
                "delta" => Ok(Temporality::Delta),
                "lowmemory" => Ok(Temporality::LowMemory),
                _ => Err("expected cumulative, delta or lowmemory".to_owned()),
            },
        )?,
    })
}

/// The specification's endpoint rules: a signal-specific variable is used as
/// it is; the generic `OTEL_EXPORTER_OTLP_ENDPOINT` gets the signal's path
/// appended for `http/protobuf` and is used as it is for `grpc`.
fn otlp_target(env: &Env, signal: &Signal) -> Result<OtlpTarget, ConfigError> {
    let generic_protocol = env.parse_or(
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        Protocol::HttpProtobuf,
        parse_protocol,
    )?;
    let protocol = env.parse_or(signal.protocol_var, generic_protocol, parse_protocol)?;
    let timeout = env.parse_or(
        "OTEL_EXPORTER_OTLP_TIMEOUT",
        DEFAULT_EXPORT_TIMEOUT,
        parse_millis,
    )?;
    let timeout = env.parse_or(signal.timeout_var, timeout, parse_millis)?;
    let tls = tls_files(env, signal)?;
    let target = |endpoint| OtlpTarget {
        protocol,
        endpoint,
        timeout,
        tls: tls.clone(),
    };

    if let Some(value) = env.get(signal.endpoint_var) {
        let endpoint = parse_endpoint(value)
            .map_err(|reason| Env::error(signal.endpoint_var, value, reason))?;
        return Ok(target(endpoint));
    }
    let base = match env.get("OTEL_EXPORTER_OTLP_ENDPOINT") {
        Some(value) => parse_endpoint(value)
            .map_err(|reason| Env::error("OTEL_EXPORTER_OTLP_ENDPOINT", value, reason))?,
        None => Url::parse(match protocol {
            Protocol::HttpProtobuf => "http://localhost:4318",
            Protocol::Grpc => "http://localhost:4317",
        })
        .map_err(|reason| Env::error("OTEL_EXPORTER_OTLP_ENDPOINT", "", reason))?,
    };
    Ok(target(match protocol {
        Protocol::Grpc => base,
        Protocol::HttpProtobuf => append_path(&base, signal.http_path),
    }))
}

fn parse_millis(value: &str) -> Result<Duration, String> {
    value
        .parse::<u64>()
        .ok()
        .filter(|millis| *millis > 0)
        .map(Duration::from_millis)
        .ok_or_else(|| "expected a positive number of milliseconds".to_owned())
}

/// The certificate and client identity of a signal, read now, so a missing
/// file stops the service at start with the variable's name.
fn tls_files(env: &Env, signal: &Signal) -> Result<TlsFiles, ConfigError> {
    // The signal's variable, else the generic one.
    let read = |signal_var: &'static str, generic_var: &'static str| {
        let Some((variable, path)) = [signal_var, generic_var]
            .into_iter()
            .find_map(|variable| env.get(variable).map(|path| (variable, path)))
        else {
            return Ok(None);
        };
        std::fs::read(Path::new(path))
            .map(Some)
            .map_err(|error| Env::error(variable, path, format!("cannot read it: {error}")))
    };
    let certificate = read(signal.certificate_var, "OTEL_EXPORTER_OTLP_CERTIFICATE")?;
    let client_certificate = read(
        signal.client_certificate_var,
        "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
    )?;
    let client_key = read(signal.client_key_var, "OTEL_EXPORTER_OTLP_CLIENT_KEY")?;
    let client_identity = match (client_certificate, client_key) {
        (Some(chain), Some(key)) => Some((chain, key)),
        (None, None) => None,
        (Some(_), None) | (None, Some(_)) => {
            return Err(Env::error(
                "OTEL_EXPORTER_OTLP_CLIENT_KEY",
                "",
                "a client certificate and a client key go together: set both or neither",
            ));
        }
    };
    Ok(TlsFiles {
        certificate,
        client_identity,
    })
}

fn append_path(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let joined = format!("{}{path}", base.path().trim_end_matches('/'));
    url.set_path(&joined);
    url
}

/// `key1=value1,key2=value2`, values percent-encoded (W3C Baggage octets).
fn parse_resource_attributes(
    variable: &'static str,
    value: &str,
) -> Result<Vec<(String, String)>, ConfigError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, raw) = pair.split_once('=').ok_or_else(|| ConfigError {
                variable,
                value: value.to_owned(),
                reason: format!("{pair:?} is not key=value"),
            })?;
            let decoded = percent_decode(raw.trim()).ok_or_else(|| ConfigError {
                variable,
                value: value.to_owned(),
                reason: format!("{raw:?} is not valid percent-encoding"),
            })?;
            Ok((key.trim().to_owned(), decoded))
        })
        .collect()
}

fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = value.get(index + 1..index + 3)?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<TelemetryConfig, ConfigError> {
        let vars = vars
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect();
        TelemetryConfig::from_vars("orders", vars)
    }

    #[test]
    fn defaults_follow_the_contract() {
        let config = config(&[]).unwrap();
        assert_eq!(config.service_name, "orders");
        assert_eq!(config.sampler, Sampler::ParentBasedAlwaysOn);
        assert_eq!(config.traces.protocol, Protocol::HttpProtobuf);
        assert_eq!(
            config.traces.endpoint.as_str(),
            "http://localhost:4318/v1/traces"
        );
        assert_eq!(
            config.logs.unwrap().endpoint.as_str(),
            "http://localhost:4318/v1/logs"
        );
        assert!(!config.sdk_disabled);
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(config.metrics.exporters, [ExporterKind::Otlp]);
        assert_eq!(
            config.metrics.otlp.endpoint.as_str(),
            "http://localhost:4318/v1/metrics"
        );
        assert_eq!(config.metrics.interval, Duration::from_mins(1));
        assert_eq!(config.metrics.temporality, Temporality::Cumulative);
    }

    #[test]
    fn metrics_variables_have_the_specifications_meanings() {
        let config = config(&[
            ("OTEL_METRICS_EXPORTER", "console"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "1500"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                "http://prometheus:9090/api/v1/otlp/v1/metrics",
            ),
            ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "Delta"),
        ])
        .unwrap();
        assert_eq!(config.metrics.exporters, [ExporterKind::Console]);
        assert_eq!(config.metrics.interval, Duration::from_millis(1500));
        assert_eq!(
            config.metrics.otlp.endpoint.as_str(),
            "http://prometheus:9090/api/v1/otlp/v1/metrics"
        );
        assert_eq!(config.metrics.temporality, Temporality::Delta);
        let none = super::tests::config(&[("OTEL_METRICS_EXPORTER", "none")]).unwrap();
        assert!(none.metrics.exporters.is_empty());
    }

    #[test]
    fn generic_endpoint_gets_the_signal_path_for_http_only() {
        let http =
            config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/base/")]).unwrap();
        assert_eq!(
            http.traces.endpoint.as_str(),
            "http://collector:4318/base/v1/traces"
        );

        let grpc = config(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
        ])
        .unwrap();
        assert_eq!(grpc.traces.endpoint.as_str(), "http://collector:4317/");
    }

    #[test]
    fn grpc_defaults_to_port_4317() {
        let grpc = config(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]).unwrap();
        assert_eq!(grpc.traces.endpoint.port(), Some(4317));
    }

    #[test]
    fn signal_specific_endpoint_is_used_verbatim() {
        let config = config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://tempo:4318/custom",
            ),
        ])
        .unwrap();
        assert_eq!(config.traces.endpoint.as_str(), "http://tempo:4318/custom");
        assert_eq!(
            config.logs.unwrap().endpoint.as_str(),
            "http://collector:4318/v1/logs"
        );
    }

    #[test]
    fn service_name_precedence() {
        let from_attributes =
            config(&[("OTEL_RESOURCE_ATTRIBUTES", "service.name=shop,team=a%20b")]).unwrap();
        assert_eq!(from_attributes.service_name, "shop");
        assert!(
            from_attributes
                .resource_attributes
                .contains(&("team".into(), "a b".into()))
        );

        let explicit = config(&[
            ("OTEL_RESOURCE_ATTRIBUTES", "service.name=shop"),
            ("OTEL_SERVICE_NAME", "orders-eu"),
        ])
        .unwrap();
        assert_eq!(explicit.service_name, "orders-eu");
    }

    #[test]
    fn ratio_samplers_read_their_argument() {
        let config = config(&[
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
        ])
        .unwrap();
        assert_eq!(config.sampler, Sampler::ParentBasedTraceIdRatio(0.25));
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (variable, value) in [
            ("OTEL_TRACES_SAMPLER", "sometimes"),
            ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
            ("OTEL_TRACES_EXPORTER", "zipkin"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "not a url"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://collector"),
            ("OTEL_SDK_DISABLED", "yes"),
            ("OTEL_METRICS_EXPORTER", "prometheus"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "soon"),
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "collector:4318"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
                "sometimes",
            ),
            ("OTEL_PROPAGATORS", "b3"),
            ("OTEL_RESOURCE_ATTRIBUTES", "novalue"),
            ("LOG_FORMAT", "xml"),
        ] {
            let mut vars = vec![(variable, value)];
            if variable == "OTEL_TRACES_SAMPLER_ARG" {
                vars.push(("OTEL_TRACES_SAMPLER", "traceidratio"));
            }
            let error = config(&vars).unwrap_err();
            assert_eq!(error.variable, variable);
            assert!(
                error
                    .to_string()
                    .starts_with(&format!("invalid {variable}="))
            );
            assert!(!error.to_string().contains('\n'));
        }
    }
}
