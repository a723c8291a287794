//! Log lines on stdout: one JSON object a line, with the trace context.
//!
//! tracing-subscriber's own JSON format knows nothing of OpenTelemetry, so it
//! cannot write `trace_id`/`span_id`. This formatter writes them from the
//! current OpenTelemetry context, which [`InSpanContext`] makes the context
//! of the span the line was written in.

use std::{
    collections::HashMap,
    fmt,
    sync::{Mutex, OnceLock},
    time::{Duration, Instant},
};

use opentelemetry::trace::TraceContextExt;
use serde_json::{Map, Value};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use tracing::{
    Dispatch, Event, Level, Metadata, Subscriber, callsite::Identifier, dispatcher::WeakDispatch,
    field::Field, span, subscriber::Interest,
};
use tracing_subscriber::{
    fmt::{FmtContext, FormatEvent, FormatFields, format::Writer},
    layer::{Context, Layer},
    registry::LookupSpan,
};

use crate::log_records;

/// Runs a log layer with the OpenTelemetry context of each event's span
/// current, so the line or record it writes carries that span's trace and
/// span id (the SDK's logger and [`JsonWithTraceContext`] read
/// `Context::current()`).
///
/// tracing-opentelemetry can make a span's context current on every enter
/// and exit instead (its default "context activation"), but a span is
/// entered on every poll of the future it instruments: some 100 times per
/// checkout in `orders`, the largest share of tracing's work on a
/// request's thread (docs/benchmarks.md). Log events are the only readers
/// of the current context here, a few per request, so the suite turns
/// activation off and does this per event.
///
/// It passes every call on but `downcast_raw` (which needs `unsafe`), so it
/// wraps a layer nothing downcasts to, with any per-layer filter outside
/// it (`InSpanContext::new(layer).with_filter(..)`), where tracing-subscriber
/// can see the filter. It needs `on_register_dispatch`, which a layer in an
/// `Option` does not get: box an optional one instead.
pub(crate) struct InSpanContext<L> {
    inner: L,
    dispatch: OnceLock<WeakDispatch>,
}

impl<L> InSpanContext<L> {
    pub(crate) fn new(inner: L) -> Self {
        Self {
            inner,
            dispatch: OnceLock::new(),
        }
    }
}

impl<S, L> Layer<S> for InSpanContext<L>
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
    L: Layer<S>,
{
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let dispatch = self.dispatch.get().and_then(WeakDispatch::upgrade);
        let context = (ctx.event_span(event).zip(dispatch)).and_then(|(span, dispatch)| {
            tracing_opentelemetry::get_otel_context(&span.id(), &dispatch)
        });
        let _current = context.map(opentelemetry::Context::attach);
        self.inner.on_event(event, ctx);
    }

    // The rest is the inner layer's.

    fn on_register_dispatch(&self, dispatch: &Dispatch) {
        let _ = self.dispatch.set(dispatch.downgrade());
        self.inner.on_register_dispatch(dispatch);
    }

    fn on_layer(&mut self, subscriber: &mut S) {
        self.inner.on_layer(subscriber);
    }

    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        self.inner.register_callsite(metadata)
    }

    fn enabled(&self, metadata: &Metadata<'_>, ctx: Context<'_, S>) -> bool {
        self.inner.enabled(metadata, ctx)
    }

    fn event_enabled(&self, event: &Event<'_>, ctx: Context<'_, S>) -> bool {
        self.inner.event_enabled(event, ctx)
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        self.inner.max_level_hint()
    }

    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        self.inner.on_new_span(attrs, id, ctx);
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        self.inner.on_record(id, values, ctx);
    }

    fn on_follows_from(&self, id: &span::Id, follows: &span::Id, ctx: Context<'_, S>) {
        self.inner.on_follows_from(id, follows, ctx);
    }

    fn on_enter(&self, id: &span::Id, ctx: Context<'_, S>) {
        self.inner.on_enter(id, ctx);
    }

    fn on_exit(&self, id: &span::Id, ctx: Context<'_, S>) {
        self.inner.on_exit(id, ctx);
    }

    fn on_close(&self, id: span::Id, ctx: Context<'_, S>) {
        self.inner.on_close(id, ctx);
    }

    fn on_id_change(&self, old: &span::Id, new: &span::Id, ctx: Context<'_, S>) {
        self.inner.on_id_change(old, new, ctx);
    }
}

/// Lets each warning or error of the OpenTelemetry SDK through once per
/// [`interval`](Self::new) and drops its repeats.
///
/// With the collector down the SDK reports every failed batch, several a
/// second under load, and the one useful line drowns the service's own. The
/// SDK still counts what it drops (its queue is bounded) and says the total
/// at shutdown; a different message (dropping started, a new error kind)
/// has its own call site and gets through.
pub(crate) struct SdkNoiseLimiter {
    interval: Duration,
    last_seen: Mutex<HashMap<Identifier, Instant>>,
}

impl SdkNoiseLimiter {
    pub(crate) fn new(interval: Duration) -> Self {
        Self {
            interval,
            last_seen: Mutex::new(HashMap::new()),
        }
    }
}

impl<S: Subscriber> Layer<S> for SdkNoiseLimiter {
    fn event_enabled(&self, event: &Event<'_>, _: Context<'_, S>) -> bool {
        let metadata = event.metadata();
        if !metadata.target().starts_with("opentelemetry") || *metadata.level() > Level::WARN {
            return true;
        }
        // Said once per endpoint by the exporter itself (`export`).
        if crate::export::is_sdk_export_error(metadata.name()) {
            return false;
        }
        let now = Instant::now();
        let mut last_seen = self
            .last_seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match last_seen.get(&metadata.callsite()) {
            Some(at) if now.duration_since(*at) < self.interval => false,
            _ => {
                last_seen.insert(metadata.callsite(), now);
                true
            }
        }
    }
}

/// `{"timestamp":..,"level":..,"target":..,"event":..,"span":..,"message":..,
/// <fields>..,"trace_id":..,"span_id":..}`, `event` only for a named event.
pub(crate) struct JsonWithTraceContext;

/// Span fields for the fmt layer: none. The JSON lines name the current
/// span and carry the trace ids, not the span's fields, yet by default the
/// fmt layer formats every span's fields into a string when the span is
/// created and again on every `record`: work for nothing on every span,
/// beside the same fields going to OpenTelemetry.
pub(crate) struct NoSpanFields;

impl<'writer> FormatFields<'writer> for NoSpanFields {
    fn format_fields<R: tracing_subscriber::field::RecordFields>(
        &self,
        _: Writer<'writer>,
        _: R,
    ) -> fmt::Result {
        Ok(())
    }
}

impl<S, N> FormatEvent<S, N> for JsonWithTraceContext
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
    N: for<'writer> FormatFields<'writer> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let metadata = event.metadata();
        let mut line = Map::new();
        let now = OffsetDateTime::now_utc()
            .format(&Rfc3339)
            .unwrap_or_default();
        line.insert("timestamp".into(), now.into());
        line.insert("level".into(), metadata.level().as_str().into());
        line.insert("target".into(), metadata.target().into());
        // A named event (`info!(name: "order.confirmed", ..)`) says so, as
        // its OTLP record does with its event name.
        if log_records::is_deliberate_event_name(metadata.name()) {
            line.insert("event".into(), metadata.name().into());
        }
        if let Some(span) = ctx.lookup_current() {
            line.insert("span".into(), span.name().into());
        }
        event.record(&mut JsonFields(&mut line));

        let context = opentelemetry::Context::current();
        let span_context = context.span().span_context().clone();
        if span_context.is_valid() {
            line.insert(
                "trace_id".into(),
                span_context.trace_id().to_string().into(),
            );
            line.insert("span_id".into(), span_context.span_id().to_string().into());
        }
        // Serialised into bytes and written once: through `Display`
        // (`writeln!(writer, "{}", ..)`) serde_json writes token by token
        // via `fmt::Write`, which cost more than building the line.
        let mut json = serde_json::to_string(&line).map_err(|_| fmt::Error)?;
        json.push('\n');
        writer.write_str(&json)
    }
}

/// Records an event's fields as JSON values, numbers as numbers.
struct JsonFields<'a>(&'a mut Map<String, Value>);

impl tracing::field::Visit for JsonFields<'_> {
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        // The whole chain, as `{:#}` prints an anyhow error.
        let mut chain = value.to_string();
        let mut source = value.source();
        while let Some(error) = source {
            chain.push_str(": ");
            chain.push_str(&error.to_string());
            source = error.source();
        }
        self.0.insert(field.name().into(), chain.into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
}

#[cfg(test)]
mod tests {
    use std::{
        io,
        sync::{Arc, Mutex},
    };

    use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing::Instrument;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    use tracing_subscriber::{fmt::MakeWriter, layer::SubscriberExt};

    use super::{InSpanContext, JsonWithTraceContext};

    /// Everything the formatter writes, for the test to read back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Self;

        fn make_writer(&'a self) -> Self {
            self.clone()
        }
    }

    #[test]
    fn lines_of_a_task_given_the_span_carry_its_trace_and_others_do_not() {
        let provider = SdkTracerProvider::builder().build();
        let captured = Captured::default();
        // As `init` sets it up: no context activation, the fmt layer run
        // in the event's span context.
        let subscriber = tracing_subscriber::registry()
            .with(
                tracing_opentelemetry::layer()
                    .with_tracer(provider.tracer("test"))
                    .with_context_activation(false),
            )
            .with(InSpanContext::new(
                tracing_subscriber::fmt::layer()
                    .event_format(JsonWithTraceContext)
                    .with_writer(captured.clone()),
            ));

        let trace_id = tracing::subscriber::with_default(subscriber, || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            runtime.block_on(async {
                let span = tracing::info_span!("request");
                let trace_id = span.context().span().span_context().trace_id().to_string();
                // Spawned inside the span, polled outside it (as on any
                // runtime): only what is given the span keeps it.
                let (given, detached) = {
                    let _entered = span.enter();
                    let given =
                        tokio::spawn(async { tracing::info!("given the span") }.in_current_span());
                    let detached = tokio::spawn(async { tracing::info!("detached") });
                    (given, detached)
                };
                given.await.unwrap();
                detached.await.unwrap();
                trace_id
            })
        });

        let output = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = output
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        let line = |message: &str| {
            lines
                .iter()
                .find(|line| line["message"] == message)
                .unwrap()
        };
        assert_eq!(line("given the span")["trace_id"], trace_id.as_str());
        assert_eq!(
            line("given the span")["span_id"].as_str().map(str::len),
            Some(16)
        );
        assert!(
            line("detached").get("trace_id").is_none(),
            "a task not given the span starts no trace"
        );
    }
}
