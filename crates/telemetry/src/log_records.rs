//! What an OTLP log record may carry, checked where `tracing` events
//! become log records.
//!
//! The appender bridge copies a `tracing` event as it is: its name becomes
//! the record's event name, each field an attribute. Neither fits the
//! semantic conventions by default. An event not given a name is named
//! `event <file>:<line>` by `tracing` (for a dependency, the absolute path
//! of the build machine's crate registry): a meaningless event name, and a
//! leak of build paths. Fields of dependencies (`server`, `max_payload`)
//! have no namespace, so no registry can define them. At this boundary:
//!
//! - a record gets an event name only when the code named the event
//!   (`tracing::info!(name: "order.confirmed", ...)`), which the suite's
//!   registry (`semconv/`) defines; tracing's default names have a space,
//!   registry names never do;
//! - a field whose key has no namespace (no `.`) is no attribute of any
//!   convention: it is kept, as `key=value`, at the end of the body.

use std::{borrow::Cow, fmt::Write as _, time::SystemTime};

use opentelemetry::{
    InstrumentationScope, Key, SpanId, TraceFlags, TraceId,
    logs::{AnyValue, LogRecord, Logger, LoggerProvider, Severity},
};

/// True for an event name the code gave on purpose.
pub(crate) fn is_deliberate_event_name(name: &str) -> bool {
    !name.contains(char::is_whitespace)
}

/// A logger provider whose records keep to the rules above.
#[derive(Debug, Clone)]
pub(crate) struct Conventional<P>(pub(crate) P);

impl<P: LoggerProvider> LoggerProvider for Conventional<P> {
    type Logger = Conventional<P::Logger>;

    fn logger_with_scope(&self, scope: InstrumentationScope) -> Self::Logger {
        Conventional(self.0.logger_with_scope(scope))
    }
}

impl<L: Logger> Logger for Conventional<L> {
    type LogRecord = ConventionalRecord<L::LogRecord>;

    fn create_log_record(&self) -> Self::LogRecord {
        ConventionalRecord {
            inner: self.0.create_log_record(),
            body: None,
            unnamespaced: String::new(),
        }
    }

    fn emit(&self, mut record: Self::LogRecord) {
        let body = match (record.body.take(), record.unnamespaced.is_empty()) {
            (body, true) => body,
            (None, false) => Some(AnyValue::from(record.unnamespaced.trim_start().to_owned())),
            (Some(body), false) => Some(AnyValue::from(format!(
                "{}{}",
                text(&body),
                record.unnamespaced
            ))),
        };
        if let Some(body) = body {
            record.inner.set_body(body);
        }
        self.0.emit(record.inner);
    }

    fn event_enabled(&self, level: Severity, target: &str, name: Option<&str>) -> bool {
        self.0.event_enabled(level, target, name)
    }
}

/// A record being built: the body and the fields without a namespace wait
/// for [`Logger::emit`], since fields come in any order.
#[derive(Debug)]
pub(crate) struct ConventionalRecord<R> {
    inner: R,
    body: Option<AnyValue>,
    /// ` key=value` for each field without a namespace.
    unnamespaced: String,
}

impl<R: LogRecord> LogRecord for ConventionalRecord<R> {
    fn set_event_name(&mut self, name: &'static str) {
        if is_deliberate_event_name(name) {
            self.inner.set_event_name(name);
        }
    }

    fn set_target<T: Into<Cow<'static, str>>>(&mut self, target: T) {
        self.inner.set_target(target);
    }

    fn set_timestamp(&mut self, timestamp: SystemTime) {
        self.inner.set_timestamp(timestamp);
    }

    fn set_observed_timestamp(&mut self, timestamp: SystemTime) {
        self.inner.set_observed_timestamp(timestamp);
    }

    fn set_severity_text(&mut self, text: &'static str) {
        self.inner.set_severity_text(text);
    }

    fn set_severity_number(&mut self, number: Severity) {
        self.inner.set_severity_number(number);
    }

    fn set_body(&mut self, body: AnyValue) {
        self.body = Some(body);
    }

    fn add_attributes<I, K, V>(&mut self, attributes: I)
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<Key>,
        V: Into<AnyValue>,
    {
        for (key, value) in attributes {
            self.add_attribute(key, value);
        }
    }

    fn add_attribute<K: Into<Key>, V: Into<AnyValue>>(&mut self, key: K, value: V) {
        let (key, value) = (key.into(), value.into());
        if key.as_str().contains('.') {
            self.inner.add_attribute(key, value);
        } else {
            let _ = write!(self.unnamespaced, " {key}={}", text(&value));
        }
    }

    fn set_trace_context(
        &mut self,
        trace_id: TraceId,
        span_id: SpanId,
        trace_flags: Option<TraceFlags>,
    ) {
        self.inner.set_trace_context(trace_id, span_id, trace_flags);
    }
}

fn text(value: &AnyValue) -> Cow<'_, str> {
    match value {
        AnyValue::String(text) => Cow::Borrowed(text.as_str()),
        AnyValue::Int(number) => Cow::Owned(number.to_string()),
        AnyValue::Double(number) => Cow::Owned(number.to_string()),
        AnyValue::Boolean(flag) => Cow::Owned(flag.to_string()),
        other => Cow::Owned(format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use std::{
        borrow::Cow,
        sync::{Arc, Mutex},
        time::SystemTime,
    };

    use opentelemetry::{
        InstrumentationScope, Key,
        logs::{AnyValue, LogRecord, Logger, LoggerProvider, Severity},
    };
    use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
    use tracing_subscriber::layer::SubscriberExt;

    use super::Conventional;

    /// What reached the SDK's side of the boundary.
    #[derive(Debug, Default, Clone)]
    struct Recorded {
        event_name: Option<&'static str>,
        attributes: Vec<String>,
        body: Option<AnyValue>,
    }

    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<Recorded>>>);

    impl LoggerProvider for Recorder {
        type Logger = Self;
        fn logger_with_scope(&self, _: InstrumentationScope) -> Self {
            self.clone()
        }
    }

    impl Logger for Recorder {
        type LogRecord = Recorded;
        fn create_log_record(&self) -> Recorded {
            Recorded::default()
        }
        fn emit(&self, record: Recorded) {
            self.0.lock().unwrap().push(record);
        }
        fn event_enabled(&self, _: Severity, _: &str, _: Option<&str>) -> bool {
            true
        }
    }

    impl LogRecord for Recorded {
        fn set_event_name(&mut self, name: &'static str) {
            self.event_name = Some(name);
        }
        fn set_target<T: Into<Cow<'static, str>>>(&mut self, _: T) {}
        fn set_timestamp(&mut self, _: SystemTime) {}
        fn set_observed_timestamp(&mut self, _: SystemTime) {}
        fn set_severity_text(&mut self, _: &'static str) {}
        fn set_severity_number(&mut self, _: Severity) {}
        fn set_body(&mut self, body: AnyValue) {
            self.body = Some(body);
        }
        fn add_attributes<I, K, V>(&mut self, attributes: I)
        where
            I: IntoIterator<Item = (K, V)>,
            K: Into<Key>,
            V: Into<AnyValue>,
        {
            for (key, value) in attributes {
                self.add_attribute(key, value);
            }
        }
        fn add_attribute<K: Into<Key>, V: Into<AnyValue>>(&mut self, key: K, _: V) {
            self.attributes.push(key.into().to_string());
        }
    }

    #[test]
    fn only_named_events_keep_a_name_and_unnamespaced_fields_join_the_body() {
        let recorder = Recorder::default();
        let bridge = OpenTelemetryTracingBridge::new(&Conventional(recorder.clone()));
        let subscriber = tracing_subscriber::registry().with(bridge);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(name: "order.confirmed", { order.id = "ord_1" }, "order confirmed");
            tracing::info!(server = "127.0.0.1:4222", max_payload = 1024, "connected");
        });

        let records = recorder.0.lock().unwrap().clone();
        assert_eq!(records[0].event_name, Some("order.confirmed"));
        assert_eq!(records[0].attributes, ["order.id"]);
        assert_eq!(records[1].event_name, None, "no `event <file>:<line>`");
        assert!(records[1].attributes.is_empty());
        assert_eq!(
            records[1].body,
            Some(AnyValue::from(
                "connected server=127.0.0.1:4222 max_payload=1024".to_owned()
            ))
        );
    }
}
