//! The records the receiver keeps: OTLP flattened into plain structs.
//!
//! OTLP nests every span in a resource and a scope and spells ids as bytes
//! and attributes as `KeyValue` lists. A test wants none of that: it wants
//! `span.service`, `span.trace_id` as the hex a `traceresponse` header
//! shows, and `span.int_attr("http.response.status_code")`.

use std::{collections::BTreeMap, fmt};

use opentelemetry_proto::tonic::{
    common::v1::{AnyValue, KeyValue, any_value},
    logs::v1::ResourceLogs,
    resource::v1::Resource,
    trace::v1::{ResourceSpans, span, status::StatusCode},
};

/// One exported span, with the resource and scope it came with.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    /// The resource's `service.name`; empty if the resource had none.
    pub service: String,
    /// 32 lowercase hex digits.
    pub trace_id: String,
    /// 16 lowercase hex digits.
    pub span_id: String,
    /// `None` for a root span.
    pub parent_span_id: Option<String>,
    pub name: String,
    pub kind: SpanKind,
    pub attributes: BTreeMap<String, AttributeValue>,
    pub status: Status,
    pub events: Vec<SpanEvent>,
    pub links: Vec<Link>,
    pub start_unix_nanos: u64,
    pub end_unix_nanos: u64,
    /// Every resource attribute, `service.name` included.
    pub resource: BTreeMap<String, AttributeValue>,
    /// The instrumentation scope's name (the tracer's name).
    pub scope: String,
}

impl Span {
    pub fn attr(&self, key: &str) -> Option<&AttributeValue> {
        self.attributes.get(key)
    }

    pub fn str_attr(&self, key: &str) -> Option<&str> {
        self.attr(key).and_then(AttributeValue::as_str)
    }

    pub fn int_attr(&self, key: &str) -> Option<i64> {
        self.attr(key).and_then(AttributeValue::as_i64)
    }

    /// From start to end, as the span recorded them.
    pub fn duration(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.end_unix_nanos.saturating_sub(self.start_unix_nanos))
    }

    pub fn is_error(&self) -> bool {
        matches!(self.status, Status::Error(_))
    }

    /// The first event with this name.
    pub fn event(&self, name: &str) -> Option<&SpanEvent> {
        self.events.iter().find(|event| event.name == name)
    }
}

/// `service name KIND [status]`, the line [`crate::TraceTree::render`] draws.
impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} [{}]",
            self.service, self.name, self.kind, self.status
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpanKind {
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
    Unspecified,
}

impl fmt::Display for SpanKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Internal => "INTERNAL",
            Self::Server => "SERVER",
            Self::Client => "CLIENT",
            Self::Producer => "PRODUCER",
            Self::Consumer => "CONSUMER",
            Self::Unspecified => "UNSPECIFIED",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Unset,
    Ok,
    /// The status message, possibly empty.
    Error(String),
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unset => f.write_str("unset"),
            Self::Ok => f.write_str("ok"),
            Self::Error(message) if message.is_empty() => f.write_str("error"),
            Self::Error(message) => write!(f, "error: {message}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SpanEvent {
    pub name: String,
    pub attributes: BTreeMap<String, AttributeValue>,
}

impl SpanEvent {
    pub fn str_attr(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).and_then(AttributeValue::as_str)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub trace_id: String,
    pub span_id: String,
}

/// An attribute value. Maps and bytes, which the suite never writes, are
/// kept as their debug text rather than refused.
#[derive(Debug, Clone, PartialEq)]
pub enum AttributeValue {
    String(String),
    Int(i64),
    Double(f64),
    Bool(bool),
    Array(Vec<AttributeValue>),
    Other(String),
}

impl AttributeValue {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(value) => Some(value),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Self::Int(value) => Some(*value),
            _ => None,
        }
    }
}

/// Strings bare (no quotes), arrays as `[a, b]`.
impl fmt::Display for AttributeValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::String(value) | Self::Other(value) => f.write_str(value),
            Self::Int(value) => write!(f, "{value}"),
            Self::Double(value) => write!(f, "{value}"),
            Self::Bool(value) => write!(f, "{value}"),
            Self::Array(values) => {
                f.write_str("[")?;
                for (index, value) in values.iter().enumerate() {
                    if index > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{value}")?;
                }
                f.write_str("]")
            }
        }
    }
}

/// One exported log record.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    pub service: String,
    /// `None` when the record was written outside any span.
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    pub severity_text: String,
    /// The record's event name; empty for a plain log line.
    pub event_name: String,
    /// A string body as is; any other body as its [`AttributeValue`] text.
    pub body: String,
    pub attributes: BTreeMap<String, AttributeValue>,
    pub resource: BTreeMap<String, AttributeValue>,
}

impl LogRecord {
    pub fn str_attr(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).and_then(AttributeValue::as_str)
    }
}

pub(crate) fn flatten_spans(resource_spans: Vec<ResourceSpans>) -> Vec<Span> {
    let mut spans = Vec::new();
    for resource_spans in resource_spans {
        let resource = resource_attributes(resource_spans.resource);
        let service = service_name(&resource);
        for scope_spans in resource_spans.scope_spans {
            let scope = scope_spans
                .scope
                .map(|scope| scope.name)
                .unwrap_or_default();
            spans.extend(scope_spans.spans.into_iter().map(|span| {
                Span {
                    service: service.clone(),
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: non_empty_id(&span.parent_span_id),
                    kind: span_kind(span.kind),
                    attributes: attributes(span.attributes),
                    status: span
                        .status
                        .map_or(Status::Unset, |status| {
                            match StatusCode::try_from(status.code) {
                                Ok(StatusCode::Ok) => Status::Ok,
                                Ok(StatusCode::Error) => Status::Error(status.message),
                                _ => Status::Unset,
                            }
                        }),
                    events: (span.events.into_iter())
                        .map(|event| SpanEvent {
                            name: event.name,
                            attributes: attributes(event.attributes),
                        })
                        .collect(),
                    links: (span.links.into_iter())
                        .map(|link| Link {
                            trace_id: hex(&link.trace_id),
                            span_id: hex(&link.span_id),
                        })
                        .collect(),
                    start_unix_nanos: span.start_time_unix_nano,
                    end_unix_nanos: span.end_time_unix_nano,
                    name: span.name,
                    resource: resource.clone(),
                    scope: scope.clone(),
                }
            }));
        }
    }
    spans
}

pub(crate) fn flatten_logs(resource_logs: Vec<ResourceLogs>) -> Vec<LogRecord> {
    let mut logs = Vec::new();
    for resource_logs in resource_logs {
        let resource = resource_attributes(resource_logs.resource);
        let service = service_name(&resource);
        for scope_logs in resource_logs.scope_logs {
            logs.extend(scope_logs.log_records.into_iter().map(|record| LogRecord {
                service: service.clone(),
                trace_id: non_empty_id(&record.trace_id),
                span_id: non_empty_id(&record.span_id),
                severity_text: record.severity_text,
                event_name: record.event_name,
                body: match record.body.map(attribute_value) {
                    Some(AttributeValue::String(body)) => body,
                    Some(other) => other.to_string(),
                    None => String::new(),
                },
                attributes: attributes(record.attributes),
                resource: resource.clone(),
            }));
        }
    }
    logs
}

fn span_kind(kind: i32) -> SpanKind {
    match span::SpanKind::try_from(kind) {
        Ok(span::SpanKind::Internal) => SpanKind::Internal,
        Ok(span::SpanKind::Server) => SpanKind::Server,
        Ok(span::SpanKind::Client) => SpanKind::Client,
        Ok(span::SpanKind::Producer) => SpanKind::Producer,
        Ok(span::SpanKind::Consumer) => SpanKind::Consumer,
        _ => SpanKind::Unspecified,
    }
}

pub(crate) fn resource_attributes(resource: Option<Resource>) -> BTreeMap<String, AttributeValue> {
    resource
        .map(|resource| attributes(resource.attributes))
        .unwrap_or_default()
}

pub(crate) fn service_name(resource: &BTreeMap<String, AttributeValue>) -> String {
    let name = resource
        .get("service.name")
        .and_then(AttributeValue::as_str);
    name.unwrap_or_default().to_owned()
}

pub(crate) fn attributes(key_values: Vec<KeyValue>) -> BTreeMap<String, AttributeValue> {
    (key_values.into_iter())
        .map(|kv| {
            (
                kv.key,
                kv.value
                    .map_or(AttributeValue::Other(String::new()), attribute_value),
            )
        })
        .collect()
}

fn attribute_value(value: AnyValue) -> AttributeValue {
    match value.value {
        Some(any_value::Value::StringValue(value)) => AttributeValue::String(value),
        Some(any_value::Value::IntValue(value)) => AttributeValue::Int(value),
        Some(any_value::Value::DoubleValue(value)) => AttributeValue::Double(value),
        Some(any_value::Value::BoolValue(value)) => AttributeValue::Bool(value),
        Some(any_value::Value::ArrayValue(array)) => {
            AttributeValue::Array(array.values.into_iter().map(attribute_value).collect())
        }
        Some(other) => AttributeValue::Other(format!("{other:?}")),
        None => AttributeValue::Other(String::new()),
    }
}

/// Empty or all-zero ids mean "none" in OTLP (a log written outside a span
/// carries no trace id; some SDKs send zeros).
fn non_empty_id(bytes: &[u8]) -> Option<String> {
    bytes.iter().any(|&byte| byte != 0).then(|| hex(bytes))
}

/// Lowercase hex, the form W3C `traceparent` and `traceresponse` use.
fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
}
