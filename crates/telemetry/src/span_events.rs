//! Which `tracing` events become span events: only the ones the code names.
//!
//! tracing-opentelemetry makes every line logged inside a span a span event
//! too, with `level` and `target` attributes. The same record then reaches
//! the back end twice: as an OTLP log record, correlated by its trace id
//! (how the conventions now want events to travel), and as a span event
//! nobody defined. So the OpenTelemetry layer is given no events at all
//! (its filter, `layers::Events::None`), and [`DeliberateSpanEvents`] adds span events for what
//! the code means as events: a `tracing` event given a name
//! (`tracing::info!(name: "order.confirmed", payment.id = .., "order
//! confirmed")`), which the suite's registry (`semconv/`) defines, becomes a
//! span event of that name carrying the event's fields. Exceptions are
//! added directly ([`crate::record_exception`]). Everything else is a log
//! record only.
//!
//! A span's status is no longer taken from its log lines either (the layer
//! would mark a span ERROR for any `error!` inside it): the code sets it
//! where it decides the outcome.

use std::sync::OnceLock;

use opentelemetry::{KeyValue, trace::TraceContextExt};
use tracing::{
    Dispatch, Event, Subscriber,
    dispatcher::WeakDispatch,
    field::{Field, Visit},
};
use tracing_subscriber::{Layer, layer::Context, registry::LookupSpan};

use crate::log_records::is_deliberate_event_name;

/// Adds a span event for each named `tracing` event to the span it was
/// written in.
#[derive(Default)]
pub(crate) struct DeliberateSpanEvents {
    /// The subscriber this layer is part of, to find a span's OpenTelemetry
    /// context (a layer's callbacks cannot reach the current dispatcher).
    dispatch: OnceLock<WeakDispatch>,
}

impl<S> Layer<S> for DeliberateSpanEvents
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
{
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        let _ = self.dispatch.set(subscriber.downgrade());
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if !is_deliberate_event_name(event.metadata().name()) {
            return;
        }
        let Some(span) = ctx.event_span(event) else {
            return;
        };
        let Some(dispatch) = self.dispatch.get().and_then(WeakDispatch::upgrade) else {
            return;
        };
        let Some(context) = tracing_opentelemetry::get_otel_context(&span.id(), &dispatch) else {
            return;
        };
        let mut fields = Fields(Vec::new());
        event.record(&mut fields);
        context.span().add_event(event.metadata().name(), fields.0);
    }
}

/// An event's fields as attributes; its message is the log record's body,
/// not an attribute of the span event.
struct Fields(Vec<KeyValue>);

impl Visit for Fields {
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.push(KeyValue::new(field.name(), value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.push(KeyValue::new(
            field.name(),
            i64::try_from(value).unwrap_or(i64::MAX),
        ));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.push(KeyValue::new(field.name(), value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.push(KeyValue::new(field.name(), value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() != "message" {
            self.0.push(KeyValue::new(field.name(), value.to_owned()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() != "message" {
            self.0
                .push(KeyValue::new(field.name(), format!("{value:?}")));
        }
    }
}
