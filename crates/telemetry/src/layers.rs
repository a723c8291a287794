//! What each layer of the subscriber is given: spans are traced whatever
//! `RUST_LOG` says, and `RUST_LOG` decides only which lines are logged.
//!
//! With one global filter, `RUST_LOG=warn` disables the INFO spans that
//! carry the trace: no SERVER span, so no `traceresponse`, no context for
//! the client to send on (the callee starts a trace of its own and the
//! caller's baggage is lost), and nothing exported. So there is no global
//! filter: each layer has its own ([`LayerFilter`]), and the spans' rule
//! ([`SPAN_LEVEL`]) is the same for every layer, so the log layers still
//! find the span a line was written in.
//!
//! Per-layer filters keep their verdicts in a thread-local between
//! `enabled` and the span or event that follows, and a crate that only
//! asks `enabled!` (sqlx does, after every query) leaves a stale verdict
//! that can drop the next span (tokio-rs/tracing#2519, #2704). Hence the
//! shape of [`LayerFilter`]: spans are decided by their level alone, the
//! same for every layer, so a span's call site is always or never enabled
//! and never asked again; events are decided in `event_enabled`, just
//! before the event reaches the layer, never in `enabled`.

use tracing::{Event, Metadata, level_filters::LevelFilter, subscriber::Interest};
use tracing_subscriber::{
    EnvFilter,
    layer::{Context, Filter},
};

/// Spans at this level or above are traced, whatever `RUST_LOG` says: the
/// level of every span the crate makes and of the spans a service makes
/// with `info_span!`. Libraries' DEBUG and TRACE spans (h2's, tower-http's
/// default) are not.
pub(crate) const SPAN_LEVEL: LevelFilter = LevelFilter::INFO;

/// Which events a layer wants, besides the spans every layer gets.
pub(crate) enum Events {
    /// None: the span layer (its events are made by `DeliberateSpanEvents`).
    None,
    /// The lines `RUST_LOG` asks for.
    Logged(LogFilter),
    /// The lines `RUST_LOG` asks for, but for the exporters' own (the SDK's
    /// diagnostics and what the transport logs on the export thread):
    /// exporting those would make more to export.
    LoggedButExporters(LogFilter),
    /// Events given a name (`info!(name: "order.confirmed", ..)`), which
    /// become span events whatever `RUST_LOG` says.
    Named,
    /// The SDK's warnings and errors, for the limiter that drops repeats.
    SdkWarnings,
}

/// `RUST_LOG`'s directives, and whether they need to follow spans.
pub(crate) struct LogFilter {
    filter: EnvFilter,
    /// Only directives scoped to a span (`target[span{field=value}]=level`)
    /// need the spans' enters and exits; following them costs two lookups
    /// under a lock each time a span's future is polled, in every layer
    /// that has such a filter.
    follows_spans: bool,
}

impl LogFilter {
    /// `directives` already checked by `EnvFilter::try_new`.
    pub(crate) fn new(directives: &str) -> Self {
        Self {
            filter: EnvFilter::try_new(directives).unwrap_or_default(),
            follows_spans: directives.contains('['),
        }
    }
}

/// A per-layer filter: every span at [`SPAN_LEVEL`] or above, and the
/// layer's [`Events`].
pub(crate) struct LayerFilter(pub(crate) Events);

impl LayerFilter {
    /// `RUST_LOG`'s filter, when it follows spans.
    fn span_scoped(&self) -> Option<&EnvFilter> {
        match &self.0 {
            Events::Logged(log) | Events::LoggedButExporters(log) if log.follows_spans => {
                Some(&log.filter)
            }
            _ => None,
        }
    }

    /// The verdict on an event that needs no `RUST_LOG`.
    fn wants_event(&self, metadata: &Metadata<'_>) -> bool {
        match &self.0 {
            Events::None | Events::Logged(_) | Events::LoggedButExporters(_) => false,
            Events::Named => {
                *metadata.level() <= SPAN_LEVEL
                    && crate::log_records::is_deliberate_event_name(metadata.name())
            }
            Events::SdkWarnings => {
                is_sdk_target(metadata.target()) && *metadata.level() <= tracing::Level::WARN
            }
        }
    }
}

impl<S> Filter<S> for LayerFilter {
    fn callsite_enabled(&self, metadata: &'static Metadata<'static>) -> Interest {
        let wanted = if metadata.is_span() {
            if let Some(filter) = self.span_scoped() {
                // Registers the span's call site with the directives scoped
                // to it, which `on_new_span` then looks up; the verdict on
                // spans is the level's alone.
                let _ = <EnvFilter as Filter<S>>::callsite_enabled(filter, metadata);
            }
            *metadata.level() <= SPAN_LEVEL
        } else if let Events::Logged(log) | Events::LoggedButExporters(log) = &self.0 {
            // `never` only where no directive, dynamic ones included, could
            // enable the event.
            !<EnvFilter as Filter<S>>::callsite_enabled(&log.filter, metadata).is_never()
        } else {
            self.wants_event(metadata)
        };
        if wanted {
            // `sometimes`, not `always`: an event's verdict is per event.
            Interest::sometimes()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>, _: &Context<'_, S>) -> bool {
        // Events are decided in `event_enabled`; see the module's doc.
        !metadata.is_span() || *metadata.level() <= SPAN_LEVEL
    }

    fn event_enabled(&self, event: &Event<'_>, context: &Context<'_, S>) -> bool {
        let metadata = event.metadata();
        match &self.0 {
            Events::None => false,
            Events::Logged(log) => {
                Filter::enabled(&log.filter, metadata, context)
                    && Filter::event_enabled(&log.filter, event, context)
            }
            Events::LoggedButExporters(log) => {
                !is_sdk_target(metadata.target())
                    && !crate::export::is_export_thread()
                    && Filter::enabled(&log.filter, metadata, context)
                    && Filter::event_enabled(&log.filter, event, context)
            }
            Events::Named | Events::SdkWarnings => self.wants_event(metadata),
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        let events = match &self.0 {
            Events::None => LevelFilter::OFF,
            Events::Logged(log) | Events::LoggedButExporters(log) => {
                <EnvFilter as Filter<S>>::max_level_hint(&log.filter)?
            }
            Events::Named => SPAN_LEVEL,
            Events::SdkWarnings => LevelFilter::WARN,
        };
        Some(events.max(SPAN_LEVEL))
    }

    // EnvFilter follows spans for its span-scoped directives, if any.

    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        context: Context<'_, S>,
    ) {
        if let Some(filter) = self.span_scoped() {
            Filter::on_new_span(filter, attrs, id, context);
        }
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        context: Context<'_, S>,
    ) {
        if let Some(filter) = self.span_scoped() {
            Filter::on_record(filter, id, values, context);
        }
    }

    fn on_enter(&self, id: &tracing::span::Id, context: Context<'_, S>) {
        if let Some(filter) = self.span_scoped() {
            Filter::on_enter(filter, id, context);
        }
    }

    fn on_exit(&self, id: &tracing::span::Id, context: Context<'_, S>) {
        if let Some(filter) = self.span_scoped() {
            Filter::on_exit(filter, id, context);
        }
    }

    fn on_close(&self, id: tracing::span::Id, context: Context<'_, S>) {
        if let Some(filter) = self.span_scoped() {
            Filter::on_close(filter, id, context);
        }
    }
}

/// The OpenTelemetry crates' own diagnostics (`opentelemetry_sdk`,
/// `opentelemetry-otlp`, ...).
pub(crate) fn is_sdk_target(target: &str) -> bool {
    target.starts_with("opentelemetry")
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::{Layer as _, layer::SubscriberExt};

    use super::*;

    /// What a fmt layer filtered by `RUST_LOG=directives` writes.
    fn logged(directives: &str, emit: impl FnOnce()) -> String {
        let written = Arc::new(Mutex::new(Vec::new()));
        let writer = Arc::clone(&written);
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(move || WriteInto(Arc::clone(&writer)))
            .with_filter(LayerFilter(Events::Logged(LogFilter::new(directives))));
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), emit);
        let bytes = written
            .lock()
            .map(|bytes| bytes.clone())
            .unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    struct WriteInto(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for WriteInto {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut bytes) = self.0.lock() {
                bytes.extend_from_slice(buf);
            }
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn inside_and_outside_a_request() {
        tracing::info!("outside");
        tracing::info_span!("request").in_scope(|| tracing::info!("inside"));
        tracing::warn!("warned");
    }

    #[test]
    fn a_directive_scoped_to_a_span_still_applies_inside_it_only() {
        let lines = logged("warn,[request]=info", inside_and_outside_a_request);
        assert!(lines.contains("inside"), "{lines}");
        assert!(!lines.contains("outside"), "{lines}");
        assert!(lines.contains("warned"), "{lines}");
    }

    #[test]
    fn plain_directives_filter_by_level() {
        let lines = logged("warn", inside_and_outside_a_request);
        assert!(
            !lines.contains("inside") && !lines.contains("outside"),
            "{lines}"
        );
        assert!(lines.contains("warned"), "{lines}");
    }
}
