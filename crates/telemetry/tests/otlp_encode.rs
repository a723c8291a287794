//! The encoder's bytes are the upstream exporter's: for batches of every
//! shape, what `SpanEncoder` writes decodes (with `opentelemetry-proto`) to
//! the request the upstream transform builds, and is byte for byte what
//! prost writes for it.

#![allow(
    clippy::expect_used,
    reason = "a failed check is a panic with the reason in its message"
)]

use std::{
    borrow::Cow,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use opentelemetry_proto::{
    tonic::collector::trace::v1::ExportTraceServiceRequest,
    transform::{
        common::tonic::ResourceAttributesWithSchema,
        trace::tonic::group_spans_by_resource_and_scope,
    },
};
use proptest::{collection::vec, option, prelude::*};
use prost::Message as _;
use service_telemetry::{
    opentelemetry::{
        Array, InstrumentationScope, KeyValue, StringValue, Value,
        trace::{
            Event, Link, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
        },
    },
    opentelemetry_sdk::{
        Resource,
        trace::{SpanData, SpanEvents, SpanLinks},
    },
    otlp_encode::SpanEncoder,
};

/// What the upstream HTTP exporter sends for `batch`.
fn upstream(batch: &[SpanData], resource: &Resource) -> ExportTraceServiceRequest {
    let resource: ResourceAttributesWithSchema = resource.into();
    ExportTraceServiceRequest {
        resource_spans: group_spans_by_resource_and_scope(batch.to_vec(), &resource),
    }
}

/// Checks one batch against upstream, decoded and as bytes.
fn check(encoder: &mut SpanEncoder, batch: &[SpanData], resource: &Resource) {
    let ours = encoder.encode(batch, resource).to_vec();
    let expected = upstream(batch, resource);
    let decoded = ExportTraceServiceRequest::decode(ours.as_slice()).expect("valid protobuf");
    assert_eq!(decoded, expected);
    assert_eq!(ours, expected.encode_to_vec(), "the same bytes");
}

// ---- Strategies --------------------------------------------------------

/// Text: often ASCII, sometimes any Unicode, sometimes empty.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-z.]{1,12}",
        1 => "\\PC{0,8}",
        1 => Just(String::new()),
    ]
}

/// Every float but NaN, which is never equal to itself once decoded
/// (`nan_is_the_same_bytes` checks its bytes).
fn float() -> impl Strategy<Value = f64> {
    use proptest::num::f64;
    f64::POSITIVE | f64::NEGATIVE | f64::NORMAL | f64::SUBNORMAL | f64::ZERO | f64::INFINITE
}

fn value() -> impl Strategy<Value = Value> {
    let string = || text().prop_map(StringValue::from);
    prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::I64),
        float().prop_map(Value::F64),
        string().prop_map(Value::String),
        vec(any::<bool>(), 0..4).prop_map(|values| Value::Array(Array::Bool(values))),
        vec(any::<i64>(), 0..4).prop_map(|values| Value::Array(Array::I64(values))),
        vec(float(), 0..4).prop_map(|values| Value::Array(Array::F64(values))),
        vec(string(), 0..4).prop_map(|values| Value::Array(Array::String(values))),
    ]
}

fn attributes(max: usize) -> impl Strategy<Value = Vec<KeyValue>> {
    vec(
        (text(), value()).prop_map(|(key, value)| KeyValue::new(key, value)),
        0..=max,
    )
}

/// Mostly 0, as the SDK's counts are.
fn count() -> impl Strategy<Value = u32> {
    prop_oneof![3 => Just(0_u32), 1 => any::<u32>()]
}

/// Before the epoch (sent as 0), at it, and any time after.
fn time() -> impl Strategy<Value = SystemTime> {
    prop_oneof![
        Just(UNIX_EPOCH),
        (1_u64..1 << 40).prop_map(|nanos| UNIX_EPOCH - Duration::from_nanos(nanos)),
        any::<u64>().prop_map(|nanos| UNIX_EPOCH + Duration::from_nanos(nanos)),
    ]
}

/// None, empty, or a few valid W3C entries.
fn trace_state() -> impl Strategy<Value = TraceState> {
    prop_oneof![
        Just(TraceState::NONE),
        vec(("[a-z][a-z0-9_*/-]{0,8}", "[!-+.-<>-~]{1,8}"), 0..4)
            .prop_filter_map("valid and unique keys", |entries| {
                TraceState::from_key_value(entries).ok()
            },),
    ]
}

fn span_context() -> impl Strategy<Value = SpanContext> {
    (
        any::<u128>(),
        any::<u64>(),
        any::<u8>(),
        any::<bool>(),
        trace_state(),
    )
        .prop_map(|(trace_id, span_id, flags, remote, state)| {
            SpanContext::new(
                TraceId::from(trace_id),
                SpanId::from(span_id),
                TraceFlags::new(flags),
                remote,
                state,
            )
        })
}

fn status() -> impl Strategy<Value = Status> {
    prop_oneof![
        Just(Status::Unset),
        Just(Status::Ok),
        text().prop_map(|description| Status::Error {
            description: description.into(),
        }),
    ]
}

fn kind() -> impl Strategy<Value = SpanKind> {
    prop_oneof![
        Just(SpanKind::Internal),
        Just(SpanKind::Server),
        Just(SpanKind::Client),
        Just(SpanKind::Producer),
        Just(SpanKind::Consumer),
    ]
}

fn scope() -> impl Strategy<Value = InstrumentationScope> {
    (
        text(),
        option::of(text()),
        option::of(text()),
        attributes(3),
    )
        .prop_map(|(name, version, schema_url, attributes)| {
            let mut builder = InstrumentationScope::builder(name).with_attributes(attributes);
            if let Some(version) = version {
                builder = builder.with_version(version);
            }
            if let Some(schema_url) = schema_url {
                builder = builder.with_schema_url(schema_url);
            }
            builder.build()
        })
}

/// A few scopes, each also with its attributes reversed: the same scope to
/// the SDK, which the spans must be grouped under with the first one seen.
fn scopes() -> impl Strategy<Value = Vec<InstrumentationScope>> {
    vec(scope(), 1..4).prop_map(|scopes| {
        let reversed = scopes.iter().map(|scope| {
            let mut attributes: Vec<KeyValue> = scope.attributes().cloned().collect();
            attributes.reverse();
            let mut builder =
                InstrumentationScope::builder(scope.name().to_owned()).with_attributes(attributes);
            if let Some(version) = scope.version() {
                builder = builder.with_version(version.to_owned());
            }
            if let Some(schema_url) = scope.schema_url() {
                builder = builder.with_schema_url(schema_url.to_owned());
            }
            builder.build()
        });
        let mut all = scopes.clone();
        all.extend(reversed);
        all
    })
}

fn event() -> impl Strategy<Value = Event> {
    (text(), time(), attributes(3), count())
        .prop_map(|(name, time, attributes, dropped)| Event::new(name, time, attributes, dropped))
}

fn link() -> impl Strategy<Value = Link> {
    (span_context(), attributes(3), count())
        .prop_map(|(context, attributes, dropped)| Link::new(context, attributes, dropped))
}

/// A span with everything drawn, but its scope (an index into the batch's).
fn span() -> impl Strategy<Value = (usize, SpanData)> {
    let ids = (
        span_context(),
        prop_oneof![Just(0_u64), any::<u64>()],
        any::<bool>(),
        kind(),
    );
    let body = (text(), time(), time(), attributes(6), count(), status());
    let children = (vec(event(), 0..3), count(), vec(link(), 0..3), count());
    (any::<usize>(), ids, body, children).prop_map(|(scope, ids, body, children)| {
        let (span_context, parent, parent_span_is_remote, span_kind) = ids;
        let (name, start_time, end_time, attributes, dropped_attributes_count, status) = body;
        let (events, dropped_events, links, dropped_links) = children;
        let mut span_events = SpanEvents::default();
        span_events.events = events;
        span_events.dropped_count = dropped_events;
        let mut span_links = SpanLinks::default();
        span_links.links = links;
        span_links.dropped_count = dropped_links;
        let span = SpanData {
            span_context,
            parent_span_id: SpanId::from(parent),
            parent_span_is_remote,
            span_kind,
            name: Cow::Owned(name),
            start_time,
            end_time,
            attributes,
            dropped_attributes_count,
            events: span_events,
            links: span_links,
            status,
            instrumentation_scope: InstrumentationScope::builder("").build(),
        };
        (scope, span)
    })
}

fn batch() -> impl Strategy<Value = Vec<SpanData>> {
    (scopes(), vec(span(), 0..8)).prop_map(|(scopes, spans)| {
        spans
            .into_iter()
            .map(|(scope, mut span)| {
                span.instrumentation_scope = scopes[scope % scopes.len()].clone();
                span
            })
            .collect()
    })
}

fn resource() -> impl Strategy<Value = Resource> {
    (attributes(5), option::of(text())).prop_map(|(attributes, schema_url)| match schema_url {
        Some(schema_url) => Resource::builder_empty()
            .with_schema_url(attributes, schema_url)
            .build(),
        None => Resource::builder_empty()
            .with_attributes(attributes)
            .build(),
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Two batches through one encoder: the second also checks that
    /// nothing of the first is left in its buffers.
    #[test]
    fn the_bytes_are_upstreams(
        first in batch(),
        second in batch(),
        resource in resource(),
    ) {
        let mut encoder = SpanEncoder::new();
        check(&mut encoder, &first, &resource);
        check(&mut encoder, &second, &resource);
    }
}

fn plain_span(attributes: Vec<KeyValue>) -> SpanData {
    SpanData {
        span_context: SpanContext::new(
            TraceId::from(1),
            SpanId::from(2),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        ),
        parent_span_id: SpanId::INVALID,
        parent_span_is_remote: false,
        span_kind: SpanKind::Server,
        name: "GET /".into(),
        start_time: UNIX_EPOCH + Duration::from_secs(1),
        end_time: UNIX_EPOCH + Duration::from_secs(2),
        attributes,
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::Unset,
        instrumentation_scope: InstrumentationScope::builder("test").build(),
    }
}

#[test]
fn nan_is_the_same_bytes() {
    let batch = [plain_span(vec![
        KeyValue::new("nan", f64::NAN),
        KeyValue::new("nans", Value::Array(Array::F64(vec![f64::NAN, -f64::NAN]))),
    ])];
    let resource = Resource::builder_empty().build();
    let ours = SpanEncoder::new().encode(&batch, &resource).to_vec();
    assert_eq!(ours, upstream(&batch, &resource).encode_to_vec());
}

#[test]
fn an_empty_batch_is_upstreams_too() {
    let resource = Resource::builder().build();
    check(&mut SpanEncoder::new(), &[], &resource);
}

/// Large enough that every nested length takes several bytes.
#[test]
fn a_large_batch_is_the_same_bytes() {
    let attributes: Vec<KeyValue> = (0..64)
        .map(|index| KeyValue::new(format!("attribute.{index}"), "x".repeat(300)))
        .collect();
    let batch: Vec<SpanData> = (0..300).map(|_| plain_span(attributes.clone())).collect();
    check(
        &mut SpanEncoder::new(),
        &batch,
        &Resource::builder().build(),
    );
}
