//! NATS messages, traced as the messaging semantic conventions say.
//!
//! A message carries the W3C context of its *creation* in its headers
//! (`traceparent`, `tracestate`, `baggage`, lowercase: NATS header names keep
//! their case). Three spans tell its story:
//!
//! - `create {destination}`, PRODUCER: the message is made, inside the
//!   business operation. Its context is the creation context, the one the
//!   headers carry; with an outbox it is stored with the row
//!   ([`StoredContext`]) and the message may leave much later.
//! - `send {destination}`, CLIENT: the publish and its acknowledgement. It
//!   is a child of the creation context, but not the creation context
//!   itself, hence CLIENT rather than PRODUCER.
//! - `process {destination}`, CONSUMER: handling it. Its parent is the
//!   creation context, so producer and consumer are one trace, and it also
//!   links to it, as the conventions ask of every process span. A message
//!   whose headers carry no valid context starts a new trace.
//!
//! `nats` is not a listed value of `messaging.system` yet; it is the value
//! the NATS clients that trace use.

use std::{collections::HashMap, str::FromStr};

use async_nats::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::{
    Context, global,
    propagation::{Extractor, Injector},
    trace::TraceContextExt,
};
use opentelemetry_semantic_conventions::attribute as semconv;
use tracing::{Span, field::Empty};
use tracing_opentelemetry::OpenTelemetrySpanExt;

const SYSTEM: &str = "nats";

/// Where a message goes or comes from, for `messaging.destination.name`
/// and `server.*`.
#[derive(Clone, Debug)]
pub struct Destination {
    /// The subject, `messaging.destination.name`.
    pub subject: String,
    /// The NATS server's host, `server.address`.
    pub server_address: String,
    /// The NATS server's port, `server.port`.
    pub server_port: u16,
}

impl Destination {
    /// `subject` on the server `url` names (port 4222 when it names none).
    pub fn new(subject: &str, url: &url::Url) -> Self {
        Self {
            subject: subject.to_owned(),
            server_address: url.host_str().unwrap_or("localhost").to_owned(),
            server_port: url.port().unwrap_or(4222),
        }
    }
}

/// Writes `context` into NATS headers with the global propagators.
pub fn inject(context: &Context, headers: &mut HeaderMap) {
    global::get_text_map_propagator(|propagator| {
        propagator.inject_context(context, &mut NatsInjector(headers));
    });
}

/// Reads a context from NATS headers; empty when they carry none. (The
/// propagators' plain `extract` starts from the *current* context, which a
/// message from elsewhere has nothing to do with.)
pub fn extract(headers: &HeaderMap) -> Context {
    global::get_text_map_propagator(|propagator| {
        propagator.extract_with_context(&Context::new(), &NatsExtractor(headers))
    })
}

struct NatsInjector<'a>(&'a mut HeaderMap);

impl Injector for NatsInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        // async-nats panics on an invalid name or value: check first, and
        // leave out what would not be a valid header.
        if let (Ok(name), Ok(value)) = (HeaderName::from_str(key), HeaderValue::from_str(&value)) {
            self.0.insert(name, value);
        }
    }
}

struct NatsExtractor<'a>(&'a HeaderMap);

impl Extractor for NatsExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        let name = HeaderName::from_str(key).ok()?;
        self.0.get(name).map(HeaderValue::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(name, _)| name.as_ref()).collect()
    }
}

/// The W3C fields of a context, as text: what an outbox row keeps of the
/// context its event was created in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredContext {
    /// The W3C `traceparent` of the creation context.
    pub traceparent: Option<String>,
    /// Its `tracestate`, if any.
    pub tracestate: Option<String>,
    /// Its `baggage`, if any.
    pub baggage: Option<String>,
}

impl StoredContext {
    /// The fields of `span`'s context.
    pub fn of(span: &Span) -> Self {
        let mut fields = HashMap::new();
        global::get_text_map_propagator(|propagator| {
            propagator.inject_context(&span.context(), &mut fields);
        });
        Self {
            traceparent: fields.remove("traceparent"),
            tracestate: fields.remove("tracestate"),
            baggage: fields.remove("baggage"),
        }
    }

    /// The context again, to parent a span on, or to put in headers.
    pub fn context(&self) -> Context {
        let fields: HashMap<String, String> = [
            ("traceparent", &self.traceparent),
            ("tracestate", &self.tracestate),
            ("baggage", &self.baggage),
        ]
        .into_iter()
        .filter_map(|(key, value)| value.clone().map(|value| (key.to_owned(), value)))
        .collect();
        global::get_text_map_propagator(|propagator| {
            propagator.extract_with_context(&Context::new(), &fields)
        })
    }
}

/// `create {subject}`, PRODUCER, a child of the current span: the message's
/// creation. Store [`StoredContext::of`] this span with the message.
pub fn create_span(subject: &str, message_id: &str) -> Span {
    tracing::info_span!(
        "messaging.create",
        otel.name = format!("create {subject}"),
        otel.kind = "producer",
        otel.status_code = Empty,
        { semconv::MESSAGING_SYSTEM } = SYSTEM,
        { semconv::MESSAGING_OPERATION_TYPE } = "create",
        { semconv::MESSAGING_OPERATION_NAME } = "create",
        { semconv::MESSAGING_DESTINATION_NAME } = subject,
        { semconv::MESSAGING_MESSAGE_ID } = message_id,
    )
}

/// `send {subject}`, CLIENT, a child of the message's creation context.
pub fn send_span(destination: &Destination, message_id: &str, creation: &Context) -> Span {
    let span = tracing::info_span!(
        "messaging.send",
        otel.name = format!("send {}", destination.subject),
        otel.kind = "client",
        otel.status_code = Empty,
        { semconv::MESSAGING_SYSTEM } = SYSTEM,
        { semconv::MESSAGING_OPERATION_TYPE } = "send",
        { semconv::MESSAGING_OPERATION_NAME } = "send",
        { semconv::MESSAGING_DESTINATION_NAME } = destination.subject.as_str(),
        { semconv::MESSAGING_MESSAGE_ID } = message_id,
        { semconv::SERVER_ADDRESS } = destination.server_address.as_str(),
        { semconv::SERVER_PORT } = i64::from(destination.server_port),
        { semconv::ERROR_TYPE } = Empty,
    );
    let _ = span.set_parent(creation.clone());
    span
}

/// `process {subject}`, CONSUMER: a child of the creation context the
/// message carried, with a link to it; a new trace when it carried none.
pub fn process_span(
    destination: &Destination,
    message_id: &str,
    consumer_group: &str,
    creation: &Context,
) -> Span {
    let span = tracing::info_span!(
        parent: None,
        "messaging.process",
        otel.name = format!("process {}", destination.subject),
        otel.kind = "consumer",
        otel.status_code = Empty,
        { semconv::MESSAGING_SYSTEM } = SYSTEM,
        { semconv::MESSAGING_OPERATION_TYPE } = "process",
        { semconv::MESSAGING_OPERATION_NAME } = "process",
        { semconv::MESSAGING_DESTINATION_NAME } = destination.subject.as_str(),
        { semconv::MESSAGING_MESSAGE_ID } = message_id,
        { semconv::MESSAGING_CONSUMER_GROUP_NAME } = consumer_group,
        { semconv::SERVER_ADDRESS } = destination.server_address.as_str(),
        { semconv::SERVER_PORT } = i64::from(destination.server_port),
        { semconv::ERROR_TYPE } = Empty,
    );
    let creation_span = creation.span().span_context().clone();
    if creation_span.is_valid() {
        let _ = span.set_parent(creation.clone());
        span.add_link(creation_span);
    } else {
        // Explicitly no parent: left unset, the OpenTelemetry context that
        // happens to be current (a polling loop's, say) would adopt it.
        let _ = span.set_parent(Context::new());
    }
    span
}

/// Counts one publish attempt in `messaging.client.sent.messages`, with
/// its `error.type` if it failed.
pub fn record_sent(destination: &Destination, error_type: Option<&str>) {
    let attributes = metric_attributes(destination, "send", None);
    crate::metrics::instruments().messaging_sent.add(
        1,
        &crate::metrics::with_error_type(attributes, error_type.map(str::to_owned)),
    );
}

/// Records how long processing one message took in
/// `messaging.process.duration`, with its `error.type` if it failed.
pub fn record_processed(
    destination: &Destination,
    consumer_group: &str,
    took: std::time::Duration,
    error_type: Option<&str>,
) {
    let attributes = metric_attributes(destination, "process", Some(consumer_group));
    crate::metrics::instruments()
        .messaging_process_duration
        .record(
            took.as_secs_f64(),
            &crate::metrics::with_error_type(attributes, error_type.map(str::to_owned)),
        );
}

/// The spans' attributes less the message id (one value per message).
fn metric_attributes(
    destination: &Destination,
    operation: &'static str,
    consumer_group: Option<&str>,
) -> Vec<opentelemetry::KeyValue> {
    use opentelemetry::KeyValue;
    let mut attributes = vec![
        KeyValue::new(semconv::MESSAGING_SYSTEM, SYSTEM),
        KeyValue::new(semconv::MESSAGING_OPERATION_NAME, operation),
        KeyValue::new(
            semconv::MESSAGING_DESTINATION_NAME,
            destination.subject.clone(),
        ),
        KeyValue::new(semconv::SERVER_ADDRESS, destination.server_address.clone()),
        KeyValue::new(semconv::SERVER_PORT, i64::from(destination.server_port)),
    ];
    if let Some(group) = consumer_group {
        attributes.push(KeyValue::new(
            semconv::MESSAGING_CONSUMER_GROUP_NAME,
            group.to_owned(),
        ));
    }
    attributes
}

/// Marks a messaging span failed: `error.type` and status ERROR.
pub fn record_failure(span: &Span, error_type: &str, message: &str) {
    span.record(semconv::ERROR_TYPE, error_type);
    span.set_status(opentelemetry::trace::Status::error(message.to_owned()));
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    /// Runs `test` with propagators and a tracer that gives spans real ids.
    fn traced<T>(test: impl FnOnce() -> T) -> T {
        global::set_text_map_propagator(crate::propagation::W3cPropagator::new(true, true));
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, test)
    }

    fn trace_id(context: &Context) -> String {
        context.span().span_context().trace_id().to_string()
    }

    fn destination() -> Destination {
        Destination {
            subject: "orders.confirmed".into(),
            server_address: "127.0.0.1".into(),
            server_port: 4222,
        }
    }

    #[test]
    fn headers_carry_the_context_in_lowercase_w3c_names() {
        traced(|| {
            let span = create_span("orders.confirmed", "evt_1");
            let mut headers = HeaderMap::new();
            inject(&span.context(), &mut headers);
            assert!(headers.get("traceparent").is_some());
            assert_eq!(trace_id(&extract(&headers)), trace_id(&span.context()));
        });
    }

    #[test]
    fn a_stored_context_restores_the_creation_context() {
        traced(|| {
            let span = create_span("orders.confirmed", "evt_1");
            let stored = StoredContext::of(&span);
            assert!(
                stored
                    .traceparent
                    .as_deref()
                    .is_some_and(|value| value.starts_with("00-"))
            );
            let restored = stored.context();
            assert_eq!(
                restored.span().span_context().span_id(),
                span.context().span().span_context().span_id()
            );
        });
    }

    #[test]
    fn send_and_process_continue_the_creation_trace() {
        traced(|| {
            let creation = create_span("orders.confirmed", "evt_1").context();
            let send = send_span(&destination(), "evt_1", &creation);
            let process = process_span(&destination(), "evt_1", "users", &creation);
            assert_eq!(trace_id(&send.context()), trace_id(&creation));
            assert_eq!(trace_id(&process.context()), trace_id(&creation));
        });
    }

    #[test]
    fn a_message_without_context_is_processed_in_a_new_trace() {
        traced(|| {
            let outer = tracing::info_span!("unrelated");
            let _entered = outer.enter();
            let process = process_span(
                &destination(),
                "evt_2",
                "users",
                &extract(&HeaderMap::new()),
            );
            assert!(process.context().span().span_context().is_valid());
            assert_ne!(
                trace_id(&process.context()),
                trace_id(&outer.context()),
                "not a child of whatever was current"
            );
        });
    }

    #[test]
    fn values_nats_cannot_carry_are_left_out_rather_than_panicking() {
        let mut headers = HeaderMap::new();
        NatsInjector(&mut headers).set("baggage", "a=1\r\nInjected: yes".to_owned());
        NatsInjector(&mut headers).set("bad:name", "x".to_owned());
        assert!(headers.get("baggage").is_none());
    }
}
