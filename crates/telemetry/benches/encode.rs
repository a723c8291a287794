//! Encoding a batch of spans as an OTLP/HTTP request body: the upstream
//! exporter's way (`group_spans_by_resource_and_scope`, then prost) against
//! `SpanEncoder`'s. Prints nanoseconds per span.
//!
//! `cargo bench -p service-telemetry --bench encode [-- MODE [SPANS [ROUNDS]]]`
//! with MODE `both` (the default), `upstream`, `ours` or `none` (the set-up
//! alone). For instructions, run the built binary under
//! `valgrind --tool=callgrind` once per mode: (mode − none) ÷ (spans ×
//! rounds) is the instructions per span.
//!
//! Both sides start from batches cloned beforehand and end with the body's
//! bytes and the batch dropped, as in an export: upstream consumes the
//! batch; ours reads it, copies the bytes into the request's body, then
//! drops it.

use std::{
    hint::black_box,
    time::{Duration, Instant, SystemTime},
};

use opentelemetry_proto::{
    tonic::collector::trace::v1::ExportTraceServiceRequest,
    transform::{
        common::tonic::ResourceAttributesWithSchema,
        trace::tonic::group_spans_by_resource_and_scope,
    },
};
use prost::Message as _;
use service_telemetry::{
    opentelemetry::{
        InstrumentationScope, KeyValue,
        trace::{Event, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState},
    },
    opentelemetry_sdk::{
        Resource,
        trace::{SpanData, SpanEvents, SpanLinks},
    },
    otlp_encode::SpanEncoder,
};

/// A checkout's spans as the suite's services make them: a SERVER span
/// with the HTTP conventions' attributes, CLIENT spans for the next hop
/// and the database, one in four with an event.
fn span(index: u64, scope: &InstrumentationScope) -> SpanData {
    let (kind, name, attributes) = match index % 3 {
        0 => (
            SpanKind::Server,
            "POST /checkout",
            vec![
                KeyValue::new("http.request.method", "POST"),
                KeyValue::new("http.route", "/checkout"),
                KeyValue::new("url.path", "/checkout"),
                KeyValue::new("url.scheme", "http"),
                KeyValue::new("server.address", "gateway"),
                KeyValue::new("server.port", 8080_i64),
                KeyValue::new("network.protocol.version", "1.1"),
                KeyValue::new("user_agent.original", "loadgen/0.1"),
                KeyValue::new("client.address", "10.0.0.7"),
                KeyValue::new("http.response.status_code", 201_i64),
            ],
        ),
        1 => (
            SpanKind::Client,
            "POST",
            vec![
                KeyValue::new("http.request.method", "POST"),
                KeyValue::new("url.full", "http://orders:8081/orders"),
                KeyValue::new("server.address", "orders"),
                KeyValue::new("server.port", 8081_i64),
                KeyValue::new("http.response.status_code", 201_i64),
            ],
        ),
        _ => (
            SpanKind::Client,
            "INSERT orders",
            vec![
                KeyValue::new("db.system.name", "postgresql"),
                KeyValue::new("db.namespace", "orders"),
                KeyValue::new("db.operation.name", "INSERT"),
                KeyValue::new("db.collection.name", "orders"),
                KeyValue::new(
                    "db.query.text",
                    "INSERT INTO orders (id, customer, total) VALUES ($1, $2, $3)",
                ),
                KeyValue::new("server.address", "postgres"),
                KeyValue::new("server.port", 5432_i64),
            ],
        ),
    };
    let mut events = SpanEvents::default();
    if index.is_multiple_of(4) {
        events.events.push(Event::new(
            "order.placed",
            SystemTime::now(),
            vec![KeyValue::new(
                "order.id",
                "8f14e45f-ceea-467f-a0e6-a1b1c2d3e4f5",
            )],
            0,
        ));
    }
    SpanData {
        span_context: SpanContext::new(
            TraceId::from(u128::from(index / 23) + 1),
            SpanId::from(index + 1),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        ),
        parent_span_id: SpanId::from(index),
        parent_span_is_remote: index.is_multiple_of(3),
        span_kind: kind,
        name: name.into(),
        start_time: SystemTime::now(),
        end_time: SystemTime::now() + Duration::from_micros(350),
        attributes,
        dropped_attributes_count: 0,
        events,
        links: SpanLinks::default(),
        status: Status::Unset,
        instrumentation_scope: scope.clone(),
    }
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|arg| arg != "--bench");
    let mode = args.next().unwrap_or_else(|| "both".to_owned());
    let spans: u32 = args.next().and_then(|n| n.parse().ok()).unwrap_or(512);
    let rounds: u32 = args.next().and_then(|n| n.parse().ok()).unwrap_or(200);

    let scope = InstrumentationScope::builder("service-telemetry").build();
    let batch: Vec<SpanData> = (0..spans)
        .map(|index| span(u64::from(index), &scope))
        .collect();
    let resource = Resource::builder()
        .with_service_name("gateway")
        .with_attributes([
            KeyValue::new("service.version", "0.1.0"),
            KeyValue::new(
                "service.instance.id",
                "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
            ),
            KeyValue::new("deployment.environment.name", "bench"),
        ])
        .build();
    // What the upstream exporter keeps from `set_resource`.
    let upstream_resource: ResourceAttributesWithSchema = (&resource).into();
    let mut encoder = SpanEncoder::new();

    let per_span =
        |elapsed: Duration| elapsed.as_secs_f64() * 1e9 / (f64::from(spans) * f64::from(rounds));
    let run_upstream = |batches: Vec<Vec<SpanData>>| {
        let start = Instant::now();
        for batch in batches {
            let request = ExportTraceServiceRequest {
                resource_spans: group_spans_by_resource_and_scope(batch, &upstream_resource),
            };
            black_box(request.encode_to_vec());
        }
        start.elapsed()
    };
    let mut run_ours = |batches: Vec<Vec<SpanData>>| {
        let start = Instant::now();
        for batch in batches {
            let body = encoder.encode(&batch, &resource).to_vec();
            black_box(body);
            drop(batch);
        }
        start.elapsed()
    };
    let batches = || -> Vec<Vec<SpanData>> { (0..rounds).map(|_| batch.clone()).collect() };

    match mode.as_str() {
        "upstream" => {
            run_upstream(batches());
        }
        "ours" => {
            run_ours(batches());
        }
        "none" => {
            black_box(batches());
        }
        _ => {
            // Warm up both, then alternate, and keep each side's best.
            run_upstream(batches());
            run_ours(batches());
            let (mut upstream, mut ours) = (f64::MAX, f64::MAX);
            for _ in 0..5 {
                upstream = upstream.min(per_span(run_upstream(batches())));
                ours = ours.min(per_span(run_ours(batches())));
            }
            let bytes = encoder.encode(&batch, &resource).len();
            println!(
                "{spans} spans a batch ({} bytes a span), best of 5 × {rounds} batches:",
                bytes / batch.len().max(1)
            );
            println!("  upstream (transform + prost): {upstream:7.1} ns/span");
            println!("  SpanEncoder:                  {ours:7.1} ns/span");
            println!("  ratio:                        {:7.2}×", upstream / ours);
        }
    }
}
