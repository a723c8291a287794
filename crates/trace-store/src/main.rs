//! `trace-store`: the Collector and Tempo, as far as `cargo run -p checkout`
//! needs them, for a machine without Docker.
//!
//! It takes OTLP/HTTP on `OTLP_LISTEN_ADDR` (default `127.0.0.1:4318`, where
//! the services export by default), keeps the last [`MAX_TRACES`] traces in
//! memory, and answers Tempo's `GET /api/v2/traces/{trace_id}` on
//! `QUERY_LISTEN_ADDR` (default `127.0.0.1:3200`, where the CLI reads). Logs
//! and metrics are accepted and dropped: nothing here shows them, and a
//! service whose exports fail would say so. `scripts/run-native.sh` starts
//! it when nothing listens on 4318.

use std::{
    collections::{HashMap, VecDeque},
    process::ExitCode,
    sync::{Arc, Mutex, PoisonError},
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, Path, State},
    http::{StatusCode, header},
    response::IntoResponse,
    routing::{get, post},
};
use opentelemetry_proto::tonic::{
    collector::trace::v1::ExportTraceServiceRequest,
    trace::v1::{ResourceSpans, ScopeSpans},
};
use prost::Message as _;

/// Traces kept; the oldest goes first. About 10 KB each for a checkout.
const MAX_TRACES: usize = 10_000;

/// Large enough for any batch an SDK sends.
const BODY_LIMIT: usize = 16 * 1024 * 1024;

/// Each trace's spans, as the resources and scopes that sent them.
#[derive(Default)]
struct Traces {
    by_id: HashMap<String, Vec<ResourceSpans>>,
    oldest_first: VecDeque<String>,
}

impl Traces {
    /// Files each span of `resource_spans` under its trace.
    fn keep(&mut self, resource_spans: ResourceSpans) {
        for scope_spans in resource_spans.scope_spans {
            let mut by_trace: HashMap<String, Vec<_>> = HashMap::new();
            for span in scope_spans.spans {
                by_trace.entry(hex(&span.trace_id)).or_default().push(span);
            }
            for (trace_id, spans) in by_trace {
                if !self.by_id.contains_key(&trace_id) {
                    self.oldest_first.push_back(trace_id.clone());
                    if self.oldest_first.len() > MAX_TRACES
                        && let Some(oldest) = self.oldest_first.pop_front()
                    {
                        self.by_id.remove(&oldest);
                    }
                }
                self.by_id.entry(trace_id).or_default().push(ResourceSpans {
                    resource: resource_spans.resource.clone(),
                    scope_spans: vec![ScopeSpans {
                        scope: scope_spans.scope.clone(),
                        spans,
                        schema_url: scope_spans.schema_url.clone(),
                    }],
                    schema_url: resource_spans.schema_url.clone(),
                });
            }
        }
    }
}

type Shared = Arc<Mutex<Traces>>;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// `POST /v1/traces`, protobuf (what the services send).
async fn receive_traces(State(traces): State<Shared>, body: Bytes) -> impl IntoResponse {
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return (StatusCode::BAD_REQUEST, "not an OTLP protobuf trace export").into_response();
    };
    let mut traces = traces.lock().unwrap_or_else(PoisonError::into_inner);
    for resource_spans in request.resource_spans {
        traces.keep(resource_spans);
    }
    // An empty ExportTraceServiceResponse: full success.
    (
        [(header::CONTENT_TYPE, "application/x-protobuf")],
        Bytes::new(),
    )
        .into_response()
}

/// `POST /v1/logs` and `/v1/metrics`: accepted, not kept.
async fn drop_export() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/x-protobuf")],
        Bytes::new(),
    )
}

/// `GET /api/v2/traces/{trace_id}`, as Tempo answers it: `{"trace":
/// {"resourceSpans": [...]}}` in OTLP JSON; 404 for a trace not seen.
async fn trace(State(traces): State<Shared>, Path(trace_id): Path<String>) -> impl IntoResponse {
    let traces = traces.lock().unwrap_or_else(PoisonError::into_inner);
    match traces.by_id.get(&trace_id.to_ascii_lowercase()) {
        Some(resource_spans) => Json(serde_json::json!({
            "trace": { "resourceSpans": resource_spans }
        }))
        .into_response(),
        None => (StatusCode::NOT_FOUND, "trace not found").into_response(),
    }
}

async fn serve(name: &str, variable: &str, default: &str, router: Router) -> std::io::Result<()> {
    let address = std::env::var(variable).unwrap_or_else(|_| default.to_owned());
    let listener = tokio::net::TcpListener::bind(&address)
        .await
        .map_err(|error| {
            std::io::Error::new(error.kind(), format!("{variable}={address}: {error}"))
        })?;
    // The line scripts and tests wait for, with the port really bound.
    println!("trace-store {name} on http://{}", listener.local_addr()?);
    axum::serve(listener, router).await
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let traces = Shared::default();
    let otlp = Router::new()
        .route("/v1/traces", post(receive_traces))
        .route("/v1/logs", post(drop_export))
        .route("/v1/metrics", post(drop_export))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(Arc::clone(&traces));
    let query = Router::new()
        .route("/api/v2/traces/{trace_id}", get(trace))
        .route("/ready", get(|| async { "ready" }))
        .with_state(traces);
    let served = tokio::select! {
        served = serve("OTLP/HTTP", "OTLP_LISTEN_ADDR", "127.0.0.1:4318", otlp) => served,
        served = serve("Tempo API", "QUERY_LISTEN_ADDR", "127.0.0.1:3200", query) => served,
        _ = tokio::signal::ctrl_c() => Ok(()),
    };
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: trace-store cannot listen: {error}");
            ExitCode::FAILURE
        }
    }
}
