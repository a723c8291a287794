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
//!
//! [`W3cPropagator`] is the one propagator the crate installs: W3C Trace
//! Context and Baggage, with the same checks wherever a context comes from
//! (HTTP, NATS, an outbox row), and without the SDK propagators' copies:
//! a `traceparent` is parsed and written byte by byte, an empty
//! `tracestate` or `baggage` is neither parsed nor sent, and the HTTP
//! headers are written without copying their names or values again.

use std::{borrow::Cow, str::FromStr};

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::{
    Context,
    baggage::{Baggage, BaggageExt},
    global,
    propagation::{Extractor, Injector, TextMapPropagator, text_map_propagator::FieldIter},
    trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState},
};

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

/// Writes `context` into HTTP headers with the global propagators: what
/// the traced client does for every request.
pub fn inject(context: &Context, headers: &mut HeaderMap) {
    global::get_text_map_propagator(|propagator| {
        propagator.inject_context(context, &mut HeaderMapInjector(headers));
    });
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

/// The value of one W3C `baggage` entry of the request, read as the W3C
/// baggage propagator reads it whatever the global propagators are (even
/// with the SDK disabled): for decisions a service takes on baggage itself.
pub fn baggage_entry(headers: &HeaderMap, key: &str) -> Option<String> {
    let header = joined(headers, BAGGAGE)?;
    // As in a `Baggage`, the last of repeated names wins.
    baggage_members(&header)?
        .filter(|member| member.name == key)
        .last()
        .map(|member| member.value.into_owned())
}

/// W3C Trace Context (`traceparent`, `tracestate`) and W3C Baggage, as
/// `OTEL_PROPAGATORS` enables them: the SDK's two propagators in one, with
/// this module's checks on every context read, from any carrier.
#[derive(Debug)]
pub struct W3cPropagator {
    trace_context: bool,
    baggage: bool,
    fields: Vec<String>,
}

impl W3cPropagator {
    /// Carries what is enabled: the trace context, the baggage, or both.
    pub fn new(trace_context: bool, baggage: bool) -> Self {
        let fields = [
            (TRACEPARENT, trace_context),
            (TRACESTATE, trace_context),
            (BAGGAGE, baggage),
        ]
        .into_iter()
        .filter(|(_, enabled)| *enabled)
        .map(|(field, _)| field.to_owned())
        .collect();
        Self {
            trace_context,
            baggage,
            fields,
        }
    }

    /// The remote parent a carrier names, when its `traceparent` is valid.
    fn span_context(extractor: &dyn Extractor) -> Option<SpanContext> {
        let (trace_id, span_id, flags) = parse_traceparent(extractor.get(TRACEPARENT)?)?;
        let trace_state = extractor
            .get(TRACESTATE)
            .filter(|value| !value.trim().is_empty() && is_bounded_tracestate(value))
            .and_then(|value| TraceState::from_str(value).ok())
            .unwrap_or_default();
        Some(SpanContext::new(
            trace_id,
            span_id,
            flags,
            true,
            trace_state,
        ))
    }
}

impl TextMapPropagator for W3cPropagator {
    fn inject_context(&self, context: &Context, injector: &mut dyn Injector) {
        if self.trace_context {
            let span = context.span();
            let span_context = span.span_context();
            if span_context.is_valid() {
                injector.set(TRACEPARENT, traceparent_value(span_context));
                // An empty `tracestate` is not sent (W3C: a vendor may
                // leave out an empty list).
                if *span_context.trace_state() != TraceState::NONE {
                    let header = span_context.trace_state().header();
                    if !header.is_empty() {
                        injector.set(TRACESTATE, header);
                    }
                }
            }
        }
        if self.baggage && !context.baggage().is_empty() {
            injector.set(BAGGAGE, baggage_header(context.baggage()));
        }
    }

    fn extract_with_context(&self, context: &Context, extractor: &dyn Extractor) -> Context {
        let parent = self
            .trace_context
            .then(|| Self::span_context(extractor))
            .flatten()
            .map(|span_context| context.with_remote_span_context(span_context));
        let baggage = extractor
            .get(BAGGAGE)
            .filter(|_| self.baggage)
            .and_then(baggage_members)
            .map(|members| {
                let mut baggage = Baggage::new();
                for member in members {
                    // Names that are not tokens, and entries past the
                    // limits, are left out by `Baggage` itself.
                    baggage.insert_with_metadata(
                        member.name.into_owned(),
                        member.value.into_owned(),
                        member.properties,
                    );
                }
                baggage
            });
        match baggage {
            Some(baggage) => parent.as_ref().unwrap_or(context).with_baggage(baggage),
            None => parent.unwrap_or_else(|| context.clone()),
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}

/// W3C Baggage: at most 8192 bytes, of which the SDK keeps 64 members.
const MAX_BAGGAGE_LENGTH: usize = 8192;
const MAX_BAGGAGE_MEMBERS: usize = 64;

/// One `name=value;properties` member of a `baggage` header, decoded.
struct BaggageMember<'a> {
    name: Cow<'a, str>,
    value: Cow<'a, str>,
    properties: String,
}

/// The members of a `baggage` header, as the SDK's propagator reads them
/// (percent-decoded, trimmed, properties kept as one string), but for a
/// value that holds `=`, which the W3C grammar allows and the SDK cuts
/// short. `None` for a header over the W3C limit, which is dropped whole.
fn baggage_members(header: &str) -> Option<impl Iterator<Item = BaggageMember<'_>>> {
    (header.len() <= MAX_BAGGAGE_LENGTH).then(|| {
        header
            .split(',')
            .take(MAX_BAGGAGE_MEMBERS)
            .filter_map(|member| {
                let (pair, properties) = member.split_once(';').unwrap_or((member, ""));
                let (name, value) = pair.split_once('=')?;
                let properties = if properties.is_empty() {
                    String::new()
                } else {
                    properties
                        .split(';')
                        .filter_map(percent_decoded)
                        .map(|property| property.trim().to_owned())
                        .collect::<Vec<_>>()
                        .join(";")
                };
                Some(BaggageMember {
                    name: trimmed(percent_decoded(name)?),
                    value: trimmed(percent_decoded(value)?),
                    properties,
                })
            })
    })
}

fn trimmed(text: Cow<'_, str>) -> Cow<'_, str> {
    match text {
        Cow::Borrowed(text) => Cow::Borrowed(text.trim()),
        Cow::Owned(text) if text.trim().len() == text.len() => Cow::Owned(text),
        Cow::Owned(text) => Cow::Owned(text.trim().to_owned()),
    }
}

/// `%XX` decoded (a `%` not followed by two hex digits stays as it is);
/// `None` when the bytes are not UTF-8. Borrowed when there is no `%`.
fn percent_decoded(text: &str) -> Option<Cow<'_, str>> {
    if !text.contains('%') {
        return Some(Cow::Borrowed(text));
    }
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        let escaped = (byte == b'%')
            .then(|| bytes.get(index + 1..index + 3))
            .flatten()
            .and_then(|digits| {
                let digit = |byte: u8| char::from(byte).to_digit(16);
                Some(digit(digits[0])? * 16 + digit(digits[1])?)
            });
        if let Some(value) = escaped.and_then(|value| u8::try_from(value).ok()) {
            decoded.push(value);
            index += 3;
        } else {
            decoded.push(byte);
            index += 1;
        }
    }
    String::from_utf8(decoded).ok().map(Cow::Owned)
}

/// A `baggage` header for `baggage`, encoded as the SDK's propagator
/// encodes it: names and values trimmed, controls, non-ASCII, space, `"`,
/// `;`, `,` and `=` percent-encoded, properties after a `;`.
fn baggage_header(baggage: &Baggage) -> String {
    let mut header = String::with_capacity(64);
    for (name, (value, metadata)) in baggage {
        if !header.is_empty() {
            header.push(',');
        }
        push_percent_encoded(&mut header, name.as_str().trim());
        header.push('=');
        push_percent_encoded(&mut header, value.as_str().trim());
        let metadata = metadata.as_str().trim();
        if !metadata.is_empty() {
            header.push(';');
            header.push_str(metadata);
        }
    }
    header
}

fn push_percent_encoded(header: &mut String, text: &str) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let escaped = |byte: u8| {
        !(0x20..0x7f).contains(&byte) || matches!(byte, b' ' | b'"' | b';' | b',' | b'=')
    };
    if !text.bytes().any(escaped) {
        header.push_str(text);
        return;
    }
    for byte in text.bytes() {
        if escaped(byte) {
            header.push('%');
            header.push(char::from(DIGITS[usize::from(byte >> 4)]));
            header.push(char::from(DIGITS[usize::from(byte & 0xf)]));
        } else {
            header.push(char::from(byte));
        }
    }
}

/// Writes propagation fields into HTTP headers: the three W3C names without
/// parsing them, and each value without copying it again.
struct HeaderMapInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderMapInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        let name = match key {
            TRACEPARENT => HeaderName::from_static(TRACEPARENT),
            TRACESTATE => HeaderName::from_static(TRACESTATE),
            BAGGAGE => HeaderName::from_static(BAGGAGE),
            other => match HeaderName::from_str(other) {
                Ok(name) => name,
                Err(_) => return,
            },
        };
        if let Ok(value) = HeaderValue::try_from(value) {
            self.0.insert(name, value);
        }
    }
}

/// The propagation headers that passed the checks, each as one value,
/// borrowed from the request unless repeated headers had to be joined.
struct CheckedHeaders<'a> {
    traceparent: Option<&'a str>,
    tracestate: Option<Cow<'a, str>>,
    baggage: Option<Cow<'a, str>>,
}

impl<'a> CheckedHeaders<'a> {
    fn new(headers: &'a HeaderMap) -> Self {
        let traceparent = single(headers, TRACEPARENT).filter(|value| is_valid_traceparent(value));
        let tracestate = traceparent
            .and_then(|_| joined(headers, TRACESTATE))
            .filter(|value| is_bounded_tracestate(value));
        Self {
            traceparent,
            tracestate,
            baggage: joined(headers, BAGGAGE),
        }
    }
}

impl Extractor for CheckedHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            TRACEPARENT => self.traceparent,
            TRACESTATE => self.tracestate.as_deref(),
            BAGGAGE => self.baggage.as_deref(),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        [
            (TRACEPARENT, self.traceparent.is_some()),
            (TRACESTATE, self.tracestate.is_some()),
            (BAGGAGE, self.baggage.is_some()),
        ]
        .into_iter()
        .filter(|(_, present)| *present)
        .map(|(key, _)| key)
        .collect()
    }
}

/// The header's value if it was sent exactly once, as visible ASCII.
fn single<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut values = headers.get_all(name).iter();
    let value = values.next()?.to_str().ok()?;
    values.next().is_none().then_some(value)
}

/// Every value of a list header joined with commas, as RFC 9110 allows;
/// borrowed when it was sent once.
fn joined<'a>(headers: &'a HeaderMap, name: &str) -> Option<Cow<'a, str>> {
    let mut values = headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok());
    let first = values.next()?;
    let Some(second) = values.next() else {
        return Some(Cow::Borrowed(first));
    };
    let mut all = format!("{first},{second}");
    for value in values {
        all.push(',');
        all.push_str(value);
    }
    Some(Cow::Owned(all))
}

/// `version "-" trace-id "-" parent-id "-" trace-flags`, exactly.
pub(crate) fn is_valid_traceparent(value: &str) -> bool {
    parse_traceparent(value).is_some()
}

/// The ids and flags of a `traceparent` that matches the grammar: lowercase
/// hex of 2, 32, 16 and 2 digits, ids not all zero, version not `ff`,
/// nothing after the flags in version `00` (later versions may append
/// `-` and fields).
fn parse_traceparent(value: &str) -> Option<(TraceId, SpanId, TraceFlags)> {
    let bytes = value.as_bytes();
    if bytes.len() < 55 || bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
        return None;
    }
    let version = hex_value(&bytes[..2])?;
    let well_ended = match (version, bytes.get(55)) {
        (_, None) => true,
        (0, Some(_)) => false,
        (_, Some(&next)) => next == b'-',
    };
    if version == 0xff || !well_ended {
        return None;
    }
    let trace_id =
        u128::from(hex_value(&bytes[3..19])?) << 64 | u128::from(hex_value(&bytes[19..35])?);
    let span_id = hex_value(&bytes[36..52])?;
    let flags = hex_value(&bytes[53..55])?;
    if trace_id == 0 || span_id == 0 {
        return None;
    }
    Some((
        TraceId::from(trace_id),
        SpanId::from(span_id),
        // Only `sampled` is defined; the other bits are not carried on.
        TraceFlags::new(u8::try_from(flags).ok()?) & TraceFlags::SAMPLED,
    ))
}

/// Up to 16 lowercase hex digits as a number; `None` on anything else.
fn hex_value(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0_u64, |number, &digit| {
        let value = match digit {
            b'0'..=b'9' => digit - b'0',
            b'a'..=b'f' => digit - b'a' + 10,
            _ => return None,
        };
        Some(number << 4 | u64::from(value))
    })
}

/// `00-<trace-id>-<span-id>-<flags>` of a valid span context.
fn traceparent_value(span_context: &SpanContext) -> String {
    let mut value = *b"00-................................-................-..";
    write_hex(&mut value[3..35], &span_context.trace_id().to_bytes());
    write_hex(&mut value[36..52], &span_context.span_id().to_bytes());
    write_hex(
        &mut value[53..55],
        &[(span_context.trace_flags() & TraceFlags::SAMPLED).to_u8()],
    );
    String::from_utf8(value.to_vec()).unwrap_or_default()
}

/// `bytes` as lowercase hex into `out`, two digits a byte.
fn write_hex(out: &mut [u8], bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (pair, byte) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0xf)];
    }
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
    use proptest::prelude::*;

    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn install_propagators() {
        global::set_text_map_propagator(W3cPropagator::new(true, true));
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

    /// The SDK's own propagators, the reference for what is carried.
    fn sdk_propagators() -> opentelemetry::propagation::TextMapCompositePropagator {
        use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
        opentelemetry::propagation::TextMapCompositePropagator::new(vec![
            Box::new(TraceContextPropagator::new()),
            Box::new(BaggagePropagator::new()),
        ])
    }

    #[test]
    fn an_empty_tracestate_is_not_sent_and_nothing_without_a_parent() {
        use std::collections::HashMap;
        let ours = W3cPropagator::new(true, true);
        let context = ours.extract_with_context(
            &Context::new(),
            &HashMap::from([(TRACEPARENT.to_owned(), VALID.to_owned())]),
        );
        let mut sent = HashMap::new();
        ours.inject_context(&context, &mut sent);
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent.get(TRACEPARENT).map(String::as_str), Some(VALID));
        let mut nothing = HashMap::new();
        ours.inject_context(&Context::new(), &mut nothing);
        assert!(nothing.is_empty(), "{nothing:?}");
    }

    #[test]
    fn only_what_is_enabled_is_carried() {
        use std::collections::HashMap;
        let carrier = HashMap::from([
            (TRACEPARENT.to_owned(), VALID.to_owned()),
            (BAGGAGE.to_owned(), "a=1".to_owned()),
        ]);
        let baggage_only =
            W3cPropagator::new(false, true).extract_with_context(&Context::new(), &carrier);
        assert!(!baggage_only.span().span_context().is_valid());
        assert_eq!(baggage_only.baggage().len(), 1);
        let trace_only =
            W3cPropagator::new(true, false).extract_with_context(&Context::new(), &carrier);
        assert!(trace_only.span().span_context().is_valid());
        assert!(trace_only.baggage().is_empty());
        assert_eq!(W3cPropagator::new(false, false).fields().count(), 0);
    }

    #[test]
    fn a_baggage_value_may_hold_an_equals_sign() {
        let headers = headers(&[("baggage", "query=a=b;p=1"), ("baggage", "other=c%3Dd")]);
        assert_eq!(baggage_entry(&headers, "query").as_deref(), Some("a=b"));
        assert_eq!(baggage_entry(&headers, "other").as_deref(), Some("c=d"));
        assert_eq!(baggage_entry(&headers, "absent"), None);
        install_propagators();
        let context = extract(&headers);
        assert_eq!(
            context
                .baggage()
                .get("query")
                .map(|value| value.as_str().to_owned()),
            Some("a=b".to_owned())
        );
    }

    proptest! {
        /// On what the grammar accepts, the SDK's propagators and this one
        /// read the same context and write the same headers (but for an
        /// empty `tracestate`, which the SDK sends and this one does not).
        #[test]
        fn reads_and_writes_what_the_sdk_propagators_do(
            trace_id in "[0-9a-f]{32}",
            parent_id in "[0-9a-f]{16}",
            flags in "[0-9a-f]{2}",
            tracestate in proptest::option::of("[a-z][a-z0-9_]{0,8}=[a-zA-Z0-9_!*/@.]{1,8}(,[a-z][a-z0-9_]{0,8}=[a-zA-Z0-9_!*/@.]{1,8}){0,4}"),
            baggage in proptest::option::of(" ?[a-z]{1,8} ?= ?[a-zA-Z0-9%!#$&*+./:?@_~ ]{0,8}(;[a-z]{1,4}(=[a-z0-9%]{1,4})?)?(,[a-z]{1,8}=[a-zA-Z0-9%!#$&*+./:?@_~]{0,8}(; ?[a-z]{1,4})?){0,4}"),
        ) {
            use std::collections::HashMap;
            prop_assume!(trace_id.bytes().any(|byte| byte != b'0') && parent_id.bytes().any(|byte| byte != b'0'));
            let mut carrier = HashMap::from([(TRACEPARENT.to_owned(), format!("00-{trace_id}-{parent_id}-{flags}"))]);
            if let Some(tracestate) = &tracestate {
                carrier.insert(TRACESTATE.to_owned(), tracestate.clone());
            }
            if let Some(baggage) = &baggage {
                carrier.insert(BAGGAGE.to_owned(), baggage.clone());
            }
            let ours = W3cPropagator::new(true, true).extract_with_context(&Context::new(), &carrier);
            let sdks = sdk_propagators().extract_with_context(&Context::new(), &carrier);
            prop_assert_eq!(ours.span().span_context().clone(), sdks.span().span_context().clone());
            let entries = |context: &Context| {
                let mut entries: Vec<String> = context.baggage().iter().map(|(key, (value, _))| format!("{key}={value}")).collect();
                entries.sort();
                entries
            };
            prop_assert_eq!(entries(&ours), entries(&sdks));

            let mut written = HashMap::new();
            W3cPropagator::new(true, true).inject_context(&ours, &mut written);
            let mut expected = HashMap::new();
            sdk_propagators().inject_context(&sdks, &mut expected);
            expected.retain(|_, value: &mut String| !value.is_empty());
            // Baggage is a set: its order on the wire is the hash map's.
            let sorted = |mut headers: HashMap<String, String>| {
                if let Some(baggage) = headers.get_mut(BAGGAGE) {
                    let mut members: Vec<&str> = baggage.split(',').collect();
                    members.sort_unstable();
                    *baggage = members.join(",");
                }
                headers
            };
            prop_assert_eq!(sorted(written), sorted(expected));
        }
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
