//! OTLP trace requests written straight from the SDK's span data.
//!
//! The upstream exporter copies every span into `opentelemetry-proto`'s
//! message structs (every string and attribute, one allocation each), and
//! prost then walks those structs, measuring each nested message again at
//! every level it is nested in. [`SpanEncoder`] writes the protobuf wire
//! format directly from [`SpanData`] instead, in two passes over one walk
//! of the batch (a private `Sink` trait): the first measures every nested
//! message once, in the order the messages start; the second writes, taking
//! each length from that list. The only copy is the one into the request's
//! bytes, in a buffer kept from one export to the next.
//!
//! The bytes are the ones prost writes for the request the upstream
//! transform builds (`group_spans_by_resource_and_scope` in
//! `opentelemetry-proto`): the same fields, in field-number order, with
//! proto3's defaults left out, one `ResourceSpans` and a `ScopeSpans` per
//! instrumentation scope in order of first appearance. The property tests
//! (`tests/otlp_encode.rs`) hold it to that.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::{
    Array, InstrumentationScope, Value,
    trace::{SpanContext, SpanId, SpanKind, Status, TraceState},
};
use opentelemetry_sdk::{Resource, trace::SpanData};

/// Encodes batches of spans as the body of an OTLP/HTTP trace export
/// (`ExportTraceServiceRequest`, `application/x-protobuf`), reusing its
/// buffers from one batch to the next.
#[derive(Debug, Default)]
pub struct SpanEncoder {
    /// The request's bytes.
    buf: Vec<u8>,
    /// The length of each nested message, in the order they start.
    sizes: Vec<usize>,
    /// The first span of each instrumentation scope, in order of first
    /// appearance: it names the scope, as the upstream transform's does.
    scopes: Vec<usize>,
    /// `(scope, span)` indices, sorted: each scope's spans in batch order.
    order: Vec<(usize, usize)>,
}

impl SpanEncoder {
    /// An encoder with empty buffers; they grow to the largest batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// The `ExportTraceServiceRequest` for `spans` from `resource`, as
    /// protobuf bytes: valid until the next call.
    pub fn encode(&mut self, spans: &[SpanData], resource: &Resource) -> &[u8] {
        self.group_by_scope(spans);
        let request = Request {
            spans,
            resource,
            scopes: &self.scopes,
            order: &self.order,
        };
        self.sizes.clear();
        let mut sizer = Sizer {
            len: 0,
            sizes: &mut self.sizes,
        };
        request.walk(&mut sizer);
        let len = sizer.len;
        self.buf.clear();
        // Known exactly: the writes below never reallocate.
        self.buf.reserve(len);
        let mut writer = Writer {
            buf: &mut self.buf,
            sizes: &self.sizes,
            next: 0,
        };
        request.walk(&mut writer);
        debug_assert_eq!(self.buf.len(), len, "the two passes disagree");
        &self.buf
    }

    /// Fills `scopes` and `order`. Scopes are compared as the upstream
    /// transform's map compares them (`InstrumentationScope`'s `Eq`), and
    /// a service has a handful: a linear search, trying the previous
    /// span's scope first, is cheaper than hashing each span's.
    fn group_by_scope(&mut self, spans: &[SpanData]) {
        self.scopes.clear();
        self.order.clear();
        let mut previous = None;
        for (index, span) in spans.iter().enumerate() {
            let scope = &span.instrumentation_scope;
            let scopes = &self.scopes;
            let same = |&group: &usize| spans[scopes[group]].instrumentation_scope == *scope;
            let found = previous
                .filter(same)
                .or_else(|| (0..scopes.len()).find(same));
            let group = found.unwrap_or_else(|| {
                self.scopes.push(index);
                self.scopes.len() - 1
            });
            previous = Some(group);
            self.order.push((group, index));
        }
        if self.scopes.len() > 1 {
            // In place; pairs are unique, so unstable is stable here.
            self.order.sort_unstable();
        }
    }
}

/// Protobuf wire types.
const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const LEN: u32 = 2;
const FIXED32: u32 = 5;

/// Where a walk of the request goes: measured ([`Sizer`]) or written
/// ([`Writer`]). One walk for both keeps the lengths and the bytes in step.
trait Sink {
    fn varint(&mut self, value: u64);
    fn fixed32(&mut self, value: u32);
    fn fixed64(&mut self, value: u64);
    fn raw(&mut self, bytes: &[u8]);
    /// A length-delimited field whose content `body` produces.
    fn message(&mut self, field: u32, body: impl FnOnce(&mut Self));
    /// The same, for content whose `size` is cheaper to compute than to
    /// measure (an attribute): the first pass does not walk it.
    fn sized_message(&mut self, field: u32, size: usize, body: impl FnOnce(&mut Self));

    fn key(&mut self, field: u32, wire_type: u32) {
        self.varint(u64::from(field << 3 | wire_type));
    }
}

/// The first pass: counts bytes, and records each nested message's length
/// in the order the messages start.
struct Sizer<'a> {
    len: usize,
    sizes: &'a mut Vec<usize>,
}

impl Sink for Sizer<'_> {
    #[inline]
    fn varint(&mut self, value: u64) {
        self.len += varint_len(value);
    }

    fn fixed32(&mut self, _: u32) {
        self.len += 4;
    }

    fn fixed64(&mut self, _: u64) {
        self.len += 8;
    }

    fn raw(&mut self, bytes: &[u8]) {
        self.len += bytes.len();
    }

    fn message(&mut self, field: u32, body: impl FnOnce(&mut Self)) {
        let slot = self.sizes.len();
        self.sizes.push(0);
        let start = self.len;
        body(self);
        let size = self.len - start;
        self.sizes[slot] = size;
        self.key(field, LEN);
        self.varint(size as u64);
    }

    fn sized_message(&mut self, field: u32, size: usize, _: impl FnOnce(&mut Self)) {
        self.key(field, LEN);
        self.varint(size as u64);
        self.len += size;
    }
}

/// The second pass: writes, with the lengths the first one measured.
struct Writer<'a> {
    buf: &'a mut Vec<u8>,
    sizes: &'a [usize],
    next: usize,
}

impl Sink for Writer<'_> {
    #[inline]
    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            #[expect(clippy::cast_possible_truncation, reason = "the low 7 bits")]
            self.buf.push(value as u8 | 0x80);
            value >>= 7;
        }
        #[expect(clippy::cast_possible_truncation, reason = "below 0x80")]
        self.buf.push(value as u8);
    }

    fn fixed32(&mut self, value: u32) {
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    fn fixed64(&mut self, value: u64) {
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    #[inline]
    fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    fn message(&mut self, field: u32, body: impl FnOnce(&mut Self)) {
        let size = self.sizes[self.next];
        self.next += 1;
        self.key(field, LEN);
        self.varint(size as u64);
        let start = self.buf.len();
        body(self);
        debug_assert_eq!(self.buf.len() - start, size, "field {field}");
    }

    fn sized_message(&mut self, field: u32, size: usize, body: impl FnOnce(&mut Self)) {
        self.key(field, LEN);
        self.varint(size as u64);
        let start = self.buf.len();
        body(self);
        debug_assert_eq!(self.buf.len() - start, size, "field {field}");
    }
}

fn varint_len(value: u64) -> usize {
    // 7 bits a byte; 0 still takes one.
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

/// One batch, grouped: what both passes walk.
struct Request<'a> {
    spans: &'a [SpanData],
    resource: &'a Resource,
    scopes: &'a [usize],
    order: &'a [(usize, usize)],
}

// Field numbers are those of opentelemetry-proto's `.proto` files, written
// in increasing order as prost writes them.
impl Request<'_> {
    /// `ExportTraceServiceRequest`: one `ResourceSpans`, as upstream sends
    /// it (the SDK gives an exporter one resource).
    fn walk<S: Sink>(&self, s: &mut S) {
        s.message(1, |s| {
            // ResourceSpans.resource: Resource.attributes; no dropped
            // count, no entity references.
            s.message(1, |s| {
                for (key, value) in self.resource {
                    key_value(s, 1, key.as_str(), value);
                }
            });
            let mut order = self.order;
            for (group, &first) in self.scopes.iter().enumerate() {
                let end = (order.iter())
                    .position(|&(of, _)| of != group)
                    .unwrap_or(order.len());
                let (members, rest) = order.split_at(end);
                order = rest;
                let scope = &self.spans[first].instrumentation_scope;
                // ResourceSpans.scope_spans
                s.message(2, |s| {
                    s.message(1, |s| scope_fields(s, scope));
                    for &(_, index) in members {
                        s.message(2, |s| span(s, &self.spans[index]));
                    }
                    string(s, 3, scope.schema_url().unwrap_or_default());
                });
            }
            string(s, 3, self.resource.schema_url().unwrap_or_default());
        });
    }
}

/// `InstrumentationScope`: the name, version and attributes (no dropped
/// count: the SDK keeps none).
fn scope_fields<S: Sink>(s: &mut S, scope: &InstrumentationScope) {
    string(s, 1, scope.name());
    string(s, 2, scope.version().unwrap_or_default());
    for attribute in scope.attributes() {
        key_value(s, 3, attribute.key.as_str(), &attribute.value);
    }
}

/// `Span`.
fn span<S: Sink>(s: &mut S, span: &SpanData) {
    let context = &span.span_context;
    id(s, 1, context.trace_id().to_bytes());
    id(s, 2, context.span_id().to_bytes());
    trace_state(s, 3, context.trace_state());
    if span.parent_span_id != SpanId::INVALID {
        id(s, 4, span.parent_span_id.to_bytes());
    }
    string(s, 5, &span.name);
    // SpanKind: never 0 (unspecified), so always written.
    s.key(6, VARINT);
    s.varint(match span.span_kind {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    });
    fixed64(s, 7, unix_nanos(span.start_time));
    fixed64(s, 8, unix_nanos(span.end_time));
    attributes(s, 9, &span.attributes);
    uint32(s, 10, span.dropped_attributes_count);
    for event in &span.events.events {
        s.message(11, |s| {
            fixed64(s, 1, unix_nanos(event.timestamp));
            string(s, 2, &event.name);
            attributes(s, 3, &event.attributes);
            uint32(s, 4, event.dropped_attributes_count);
        });
    }
    uint32(s, 12, span.events.dropped_count);
    for link in &span.links.links {
        s.message(13, |s| {
            let context = &link.span_context;
            id(s, 1, context.trace_id().to_bytes());
            id(s, 2, context.span_id().to_bytes());
            trace_state(s, 3, context.trace_state());
            attributes(s, 4, &link.attributes);
            uint32(s, 5, link.dropped_attributes_count);
            s.key(6, FIXED32);
            s.fixed32(flags(context, context.is_remote()));
        });
    }
    uint32(s, 14, span.links.dropped_count);
    // Status: always present, with a message only for an error.
    s.message(15, |s| {
        let code = match &span.status {
            Status::Unset => 0,
            Status::Ok => 1,
            Status::Error { description } => {
                string(s, 2, description);
                2
            }
        };
        if code != 0 {
            s.key(3, VARINT);
            s.varint(code);
        }
    });
    // Span.flags: never 0 (the "has is-remote" bit), so always written.
    s.key(16, FIXED32);
    s.fixed32(flags(context, span.parent_span_is_remote));
}

/// The W3C trace flags and, as the upstream transform sets them, the bits
/// that say whether the parent (for a link: the linked span) is remote.
fn flags(context: &SpanContext, remote: bool) -> u32 {
    const HAS_IS_REMOTE: u32 = 0x100;
    const IS_REMOTE: u32 = 0x200;
    let remote = if remote { IS_REMOTE } else { 0 };
    u32::from(context.trace_flags().to_u8()) | HAS_IS_REMOTE | remote
}

/// As the upstream transform converts a time: 0 before the epoch.
fn unix_nanos(time: SystemTime) -> u64 {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    #[expect(
        clippy::cast_possible_truncation,
        reason = "as upstream converts it: wraps in 2554"
    )]
    let nanos = since_epoch.as_nanos() as u64;
    nanos
}

fn attributes<S: Sink>(s: &mut S, field: u32, attributes: &[opentelemetry::KeyValue]) {
    for attribute in attributes {
        key_value(s, field, attribute.key.as_str(), &attribute.value);
    }
}

// Attributes are most of a span's bytes, and their sizes follow from the
// lengths of their strings: computed, not measured, they cost the first
// pass next to nothing and take no place in the list of sizes.

/// A `KeyValue` field: the key, and the value always (an empty string
/// included).
fn key_value<S: Sink>(s: &mut S, field: u32, key: &str, value: &Value) {
    let value_len = any_value_len(value);
    let size = string_len(key) + len_field(value_len);
    s.sized_message(field, size, |s| {
        string(s, 1, key);
        s.sized_message(2, value_len, |s| any_value(s, value));
    });
}

/// `AnyValue`'s fields. A oneof member is written even when it is its
/// type's default (`false`, 0, "").
fn any_value<S: Sink>(s: &mut S, value: &Value) {
    match value {
        Value::Bool(value) => one_bool(s, *value),
        Value::I64(value) => one_i64(s, *value),
        Value::F64(value) => one_f64(s, *value),
        Value::String(value) => one_string(s, value.as_str()),
        // ArrayValue.values, each an AnyValue.
        Value::Array(array) => s.sized_message(5, array_len(array), |s| match array {
            Array::Bool(values) => {
                for &value in values {
                    s.sized_message(1, BOOL_LEN, |s| one_bool(s, value));
                }
            }
            Array::I64(values) => {
                for &value in values {
                    s.sized_message(1, i64_len(value), |s| one_i64(s, value));
                }
            }
            Array::F64(values) => {
                for &value in values {
                    s.sized_message(1, F64_LEN, |s| one_f64(s, value));
                }
            }
            Array::String(values) => {
                for value in values {
                    let value = value.as_str();
                    s.sized_message(1, len_field(value.len()), |s| one_string(s, value));
                }
            }
            // A kind of array newer than this code: empty.
            _ => {}
        }),
        // A kind of value newer than this code (upstream would panic):
        // its text rather than nothing.
        other => one_string(s, &other.as_str()),
    }
}

/// The size of `AnyValue` fields as [`any_value`] writes them.
fn any_value_len(value: &Value) -> usize {
    match value {
        Value::Bool(_) => BOOL_LEN,
        Value::I64(value) => i64_len(*value),
        Value::F64(_) => F64_LEN,
        Value::String(value) => len_field(value.as_str().len()),
        Value::Array(array) => len_field(array_len(array)),
        other => len_field(other.as_str().len()),
    }
}

/// The size of an `ArrayValue`'s fields.
fn array_len(array: &Array) -> usize {
    match array {
        Array::Bool(values) => values.len() * len_field(BOOL_LEN),
        Array::I64(values) => values.iter().map(|&value| len_field(i64_len(value))).sum(),
        Array::F64(values) => values.len() * len_field(F64_LEN),
        Array::String(values) => (values.iter())
            .map(|value| len_field(len_field(value.as_str().len())))
            .sum(),
        _ => 0,
    }
}

/// A field of `size` bytes after a one-byte key (field numbers below 16)
/// and its length.
fn len_field(size: usize) -> usize {
    1 + varint_len(size as u64) + size
}

/// A `string` field as [`string`] writes it.
fn string_len(value: &str) -> usize {
    if value.is_empty() {
        0
    } else {
        len_field(value.len())
    }
}

const BOOL_LEN: usize = 2;
const F64_LEN: usize = 9;

fn i64_len(value: i64) -> usize {
    1 + varint_len(value.cast_unsigned())
}

fn one_string<S: Sink>(s: &mut S, value: &str) {
    s.key(1, LEN);
    s.varint(value.len() as u64);
    s.raw(value.as_bytes());
}

fn one_bool<S: Sink>(s: &mut S, value: bool) {
    s.key(2, VARINT);
    s.varint(u64::from(value));
}

fn one_i64<S: Sink>(s: &mut S, value: i64) {
    s.key(3, VARINT);
    // int64: two's complement, as a 10-byte varint when negative.
    s.varint(value.cast_unsigned());
}

fn one_f64<S: Sink>(s: &mut S, value: f64) {
    s.key(4, FIXED64);
    s.fixed64(value.to_bits());
}

/// A `string` field: left out when empty.
fn string<S: Sink>(s: &mut S, field: u32, value: &str) {
    if !value.is_empty() {
        s.key(field, LEN);
        s.varint(value.len() as u64);
        s.raw(value.as_bytes());
    }
}

/// A `bytes` field for an id (never empty): of a length known at compile
/// time, which makes its copy a move or two rather than a call to memcpy.
#[inline]
fn id<S: Sink, const N: usize>(s: &mut S, field: u32, id: [u8; N]) {
    s.key(field, LEN);
    s.varint(N as u64);
    s.raw(&id);
}

/// A `uint32` field: left out when 0.
fn uint32<S: Sink>(s: &mut S, field: u32, value: u32) {
    if value != 0 {
        s.key(field, VARINT);
        s.varint(u64::from(value));
    }
}

/// A `fixed64` field: left out when 0.
fn fixed64<S: Sink>(s: &mut S, field: u32, value: u64) {
    if value != 0 {
        s.key(field, FIXED64);
        s.fixed64(value);
    }
}

/// The trace state as its header (`key=value,...`), written in place
/// rather than formatted into a string first; left out when empty.
fn trace_state<S: Sink>(s: &mut S, field: u32, state: &TraceState) {
    let entries = state.into_iter();
    let count = entries.len();
    if count == 0 {
        return;
    }
    let len = state
        .into_iter()
        .map(|(key, value)| key.len() + 1 + value.len())
        .sum::<usize>()
        + (count - 1);
    s.key(field, LEN);
    s.varint(len as u64);
    for (index, (key, value)) in entries.enumerate() {
        if index > 0 {
            s.raw(b",");
        }
        s.raw(key.as_bytes());
        s.raw(b"=");
        s.raw(value.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::varint_len;

    #[test]
    fn varint_lengths() {
        for (value, len) in [
            (0, 1),
            (1, 1),
            (127, 1),
            (128, 2),
            (16_383, 2),
            (16_384, 3),
            (u64::MAX, 10),
        ] {
            assert_eq!(varint_len(value), len, "{value}");
        }
    }
}
