//! Reading a caller's W3C context from HTTP headers, strictly.
//!
//! The SDK's propagators are lenient where the W3C specifications are not:
//! `TraceId::from_hex` takes `abc` for a 32-digit id and a leading `+`, and
//! only the first of repeated headers is read. A caller's header is input
//! like any other, so it is checked against the grammar here first; what
//! does not match is dropped and a new trace starts. Nothing in a header can
//! fail a request.
//!
//! - `traceparent` must match `version-traceid-parentid-flags` exactly:
//!   lowercase hex of 2, 32, 16 and 2 digits, ids not all zero, version not
//!   `ff`, nothing after the flags in version `00`. Sent twice, it is
//!   ambiguous and dropped.
//! - `tracestate` is read only with a valid `traceparent`, its repeated
//!   headers joined as HTTP says; over 32 members or 512 characters it is
//!   dropped whole.
//! - `baggage` headers are joined too; the SDK bounds what it keeps (8192
//!   bytes, 64 entries).

use http::HeaderMap;
use opentelemetry::{Context, global, propagation::Extractor};

const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";
const BAGGAGE: &str = "baggage";

/// W3C Trace Context: at most 32 list members.
const MAX_TRACESTATE_MEMBERS: usize = 32;
/// W3C Trace Context: vendors may drop a longer `tracestate`.
const MAX_TRACESTATE_LENGTH: usize = 512;

/// The caller's context, or an empty one when the headers carry none that
/// is valid.
pub fn extract(headers: &HeaderMap) -> Context {
    let carrier = CheckedHeaders::new(headers);
    // From an empty context, not the current one: a caller's request has
    // nothing to do with whatever this task happened to be doing.
    global::get_text_map_propagator(|propagator| {
        propagator.extract_with_context(&Context::new(), &carrier)
    })
}

/// `span`'s own context as a W3C `traceparent` value, for a page to carry on
/// (`<meta name="traceparent">`) or a response to name (`traceresponse`);
/// `None` when it has no valid context.
pub fn traceparent(span: &tracing::Span) -> Option<String> {
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            span_context.trace_id(),
            span_context.span_id(),
            span_context.trace_flags().to_u8()
        )
    })
}

/// The value of one W3C `baggage` entry of the request, parsed by the W3C
/// baggage propagator whatever the global propagators are (even with the
/// SDK disabled): for decisions a service takes on baggage itself.
pub fn baggage_entry(headers: &HeaderMap, key: &str) -> Option<String> {
    use opentelemetry::baggage::BaggageExt;
    use opentelemetry::propagation::TextMapPropagator;
    let carrier = CheckedHeaders::new(headers);
    let context = opentelemetry_sdk::propagation::BaggagePropagator::new()
        .extract_with_context(&Context::new(), &carrier);
    context
        .baggage()
        .get(key)
        .map(|value| value.as_str().to_owned())
}

/// The propagation headers that passed the checks, each as one value.
struct CheckedHeaders {
    traceparent: Option<String>,
    tracestate: Option<String>,
    baggage: Option<String>,
}

impl CheckedHeaders {
    fn new(headers: &HeaderMap) -> Self {
        let traceparent = single(headers, TRACEPARENT).filter(|value| is_valid_traceparent(value));
        let tracestate = traceparent
            .as_ref()
            .and_then(|_| joined(headers, TRACESTATE))
            .filter(|value| is_bounded_tracestate(value));
        Self {
            traceparent,
            tracestate,
            baggage: joined(headers, BAGGAGE),
        }
    }
}

impl Extractor for CheckedHeaders {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            TRACEPARENT => self.traceparent.as_deref(),
            TRACESTATE => self.tracestate.as_deref(),
            BAGGAGE => self.baggage.as_deref(),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        [
            (TRACEPARENT, &self.traceparent),
            (TRACESTATE, &self.tracestate),
            (BAGGAGE, &self.baggage),
        ]
        .into_iter()
        .filter(|(_, value)| value.is_some())
        .map(|(key, _)| key)
        .collect()
    }
}

/// The header's value if it was sent exactly once, as visible ASCII.
fn single(headers: &HeaderMap, name: &str) -> Option<String> {
    let mut values = headers.get_all(name).iter();
    let value = values.next()?.to_str().ok()?;
    values.next().is_none().then(|| value.to_owned())
}

/// Every value of a list header joined with commas, as RFC 9110 allows.
fn joined(headers: &HeaderMap, name: &str) -> Option<String> {
    let values: Vec<&str> = headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}

/// `version "-" trace-id "-" parent-id "-" trace-flags`, exactly.
pub(crate) fn is_valid_traceparent(value: &str) -> bool {
    let lower_hex = |field: &str, length: usize| {
        field.len() == length
            && field
                .bytes()
                .all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'))
    };
    let not_zero = |field: &str| field.bytes().any(|byte| byte != b'0');
    let mut fields = value.splitn(5, '-');
    let (Some(version), Some(trace_id), Some(parent_id), Some(flags)) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return false;
    };
    let rest = fields.next();
    lower_hex(version, 2)
        && version != "ff"
        && lower_hex(trace_id, 32)
        && not_zero(trace_id)
        && lower_hex(parent_id, 16)
        && not_zero(parent_id)
        && lower_hex(flags, 2)
        // Version 00 ends at the flags; later versions may append fields.
        && (rest.is_none() || version != "00")
}

fn is_bounded_tracestate(value: &str) -> bool {
    value.len() <= MAX_TRACESTATE_LENGTH
        && value
            .split(',')
            .filter(|member| !member.trim().is_empty())
            .count()
            <= MAX_TRACESTATE_MEMBERS
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;
    use opentelemetry::{baggage::BaggageExt, trace::TraceContextExt};
    use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
    use proptest::prelude::*;

    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn install_propagators() {
        global::set_text_map_propagator(
            opentelemetry::propagation::TextMapCompositePropagator::new(vec![
                Box::new(TraceContextPropagator::new()),
                Box::new(BaggagePropagator::new()),
            ]),
        );
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.append(*name, value);
            }
        }
        headers
    }

    fn parent_of(pairs: &[(&'static str, &str)]) -> Option<String> {
        install_propagators();
        let context = extract(&headers(pairs));
        let span_context = context.span().span_context().clone();
        span_context
            .is_valid()
            .then(|| span_context.trace_id().to_string())
    }

    #[test]
    fn a_valid_traceparent_continues_the_trace() {
        assert_eq!(
            parent_of(&[("traceparent", VALID)]).as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
    }

    #[test]
    fn anything_off_the_grammar_starts_a_new_trace() {
        for value in [
            "",
            "00-abc-def-01",
            "00-+bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(parent_of(&[("traceparent", value)]), None, "{value:?}");
        }
    }

    #[test]
    fn a_later_version_may_carry_more_fields() {
        let value = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future";
        assert!(parent_of(&[("traceparent", value)]).is_some());
    }

    #[test]
    fn a_repeated_traceparent_is_ambiguous_and_dropped() {
        let other = "00-11111111111111111111111111111111-2222222222222222-01";
        assert_eq!(
            parent_of(&[("traceparent", VALID), ("traceparent", other)]),
            None
        );
    }

    #[test]
    fn tracestate_over_32_members_is_dropped_whole() {
        install_propagators();
        let many = (0..33)
            .map(|index| format!("v{index}=x"))
            .collect::<Vec<_>>()
            .join(",");
        let context = extract(&headers(&[("traceparent", VALID), ("tracestate", &many)]));
        assert!(
            context.span().span_context().is_valid(),
            "the parent is kept"
        );
        assert_eq!(context.span().span_context().trace_state().header(), "");

        let few = extract(&headers(&[
            ("traceparent", VALID),
            ("tracestate", "a=1"),
            ("tracestate", "b=2"),
        ]));
        assert_eq!(
            few.span().span_context().trace_state().header(),
            "a=1,b=2",
            "repeated headers are joined"
        );
    }

    #[test]
    fn repeated_baggage_headers_are_joined() {
        install_propagators();
        let context = extract(&headers(&[("baggage", "a=1"), ("baggage", "b=2")]));
        assert_eq!(context.baggage().len(), 2);
    }

    proptest! {
        #[test]
        fn no_header_value_panics_or_yields_an_off_grammar_parent(
            traceparent in ".{0,80}",
            tracestate in ".{0,600}",
            baggage in ".{0,300}",
        ) {
            install_propagators();
            let context = extract(&headers(&[("traceparent", &traceparent), ("tracestate", &tracestate), ("baggage", &baggage)]));
            if context.span().span_context().is_valid() {
                prop_assert!(is_valid_traceparent(&traceparent));
            }
        }

        #[test]
        fn every_grammatical_traceparent_is_accepted(
            trace_id in "[0-9a-f]{32}",
            parent_id in "[0-9a-f]{16}",
            flags in "[0-9a-f]{2}",
        ) {
            prop_assume!(trace_id.bytes().any(|byte| byte != b'0') && parent_id.bytes().any(|byte| byte != b'0'));
            let value = format!("00-{trace_id}-{parent_id}-{flags}");
            prop_assert_eq!(parent_of(&[("traceparent", &value)]), Some(trace_id));
        }
    }
}
