//! The OTLP receiver on its own, without any service: a hand-built export
//! request goes in over HTTP, flattened spans come out.

use std::time::Duration;

use e2e::{AttributeValue, OtlpReceiver, SpanKind, Status, TraceTree};
use opentelemetry_proto::tonic::{
    collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse},
    common::v1::{AnyValue, KeyValue, any_value::Value},
    resource::v1::Resource,
    trace::v1::{self, ResourceSpans, ScopeSpans, span},
};
use prost::Message;

const TRACE_ID: [u8; 16] = [
    0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36,
];
const SPAN_ID: [u8; 8] = [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7];
const PARENT_ID: [u8; 8] = [0x53, 0x99, 0x5c, 0x3f, 0x42, 0xcd, 0x8a, 0xd8];

fn key_value(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

fn request() -> ExportTraceServiceRequest {
    let span = v1::Span {
        trace_id: TRACE_ID.to_vec(),
        span_id: SPAN_ID.to_vec(),
        parent_span_id: PARENT_ID.to_vec(),
        name: "POST /payments".into(),
        kind: span::SpanKind::Server.into(),
        start_time_unix_nano: 1_000,
        end_time_unix_nano: 2_000,
        attributes: vec![
            key_value("http.response.status_code", Value::IntValue(502)),
            key_value("payment.card.last4", Value::StringValue("4242".into())),
        ],
        events: vec![span::Event {
            name: "exception".into(),
            attributes: vec![key_value(
                "exception.type",
                Value::StringValue("Upstream".into()),
            )],
            ..span::Event::default()
        }],
        status: Some(v1::Status {
            code: v1::status::StatusCode::Error.into(),
            message: "card processor unavailable".into(),
        }),
        ..v1::Span::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![key_value("service.name", Value::StringValue("svc".into()))],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![span],
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

#[tokio::test]
async fn flattens_an_exported_span() -> anyhow::Result<()> {
    let receiver = OtlpReceiver::start()?;

    let response = e2e::http_client()
        .post(format!("{}/v1/traces", receiver.endpoint()))
        .header("content-type", "application/x-protobuf")
        .body(request().encode_to_vec())
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-protobuf");
    ExportTraceServiceResponse::decode(response.bytes().await?)?;

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let spans = receiver
        .wait_for_trace(trace_id, |spans| !spans.is_empty(), Duration::from_secs(5))
        .await;
    let [span] = spans.as_slice() else {
        panic!("one span expected, got {spans:#?}")
    };

    assert_eq!(span.service, "svc");
    assert_eq!(span.trace_id, trace_id);
    assert_eq!(span.span_id, "00f067aa0ba902b7");
    assert_eq!(span.parent_span_id.as_deref(), Some("53995c3f42cd8ad8"));
    assert_eq!(span.name, "POST /payments");
    assert_eq!(span.kind, SpanKind::Server);
    assert_eq!((span.start_unix_nanos, span.end_unix_nanos), (1_000, 2_000));
    assert_eq!(span.int_attr("http.response.status_code"), Some(502));
    assert_eq!(span.str_attr("payment.card.last4"), Some("4242"));
    assert_eq!(span.attr("missing"), None);
    assert_eq!(
        span.status,
        Status::Error("card processor unavailable".into())
    );
    assert!(span.is_error());
    assert_eq!(span.events.len(), 1);
    assert_eq!(span.events[0].name, "exception");
    assert_eq!(
        span.events[0].attributes["exception.type"],
        AttributeValue::String("Upstream".into())
    );
    assert!(span.links.is_empty());

    // The raw bodies are searchable, and only for what was really sent.
    assert!(receiver.raw_payload_contains(b"4242"));
    assert!(!receiver.raw_payload_contains(b"4242424242424242"));

    // The parent was never received, so the span is the root of what there is.
    let tree = TraceTree::new(&spans);
    assert_eq!(tree.roots().len(), 1);
    assert_eq!(tree.find("svc", "POST /payments"), Some(span));
    assert_eq!(
        tree.render(),
        "svc POST /payments SERVER [error: card processor unavailable] (parent 53995c3f42cd8ad8 not received)\n"
    );
    Ok(())
}

#[tokio::test]
async fn refuses_what_it_cannot_read() -> anyhow::Result<()> {
    let receiver = OtlpReceiver::start()?;
    let client = e2e::http_client();
    let url = format!("{}/v1/traces", receiver.endpoint());

    let json = client
        .post(&url)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await?;
    assert_eq!(json.status(), 415);
    let gzip = (client.post(&url))
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "gzip")
        .body(request().encode_to_vec())
        .send()
        .await?;
    assert_eq!(gzip.status(), 415);
    let garbage = (client.post(&url))
        .header("content-type", "application/x-protobuf")
        .body(vec![0xff; 7])
        .send()
        .await?;
    assert_eq!(garbage.status(), 400);

    assert!(receiver.spans().is_empty());
    Ok(())
}

/// Tests and the suite use the receiver from sync code and from runtimes
/// of their own; it must neither need nor disturb the caller's.
#[test]
fn starts_and_stops_outside_any_runtime() -> anyhow::Result<()> {
    let receiver = OtlpReceiver::start()?;
    let address = receiver.endpoint().trim_start_matches("http://").to_owned();
    assert!(std::net::TcpStream::connect(&address).is_ok());
    drop(receiver);
    assert!(
        std::net::TcpStream::connect(&address).is_err(),
        "the port is still served after drop"
    );
    Ok(())
}
