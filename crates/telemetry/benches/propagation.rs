//! Trace context on the wire: `propagation::inject` into an HTTP request's
//! headers and `propagation::extract` from them, with the crate's
//! `W3cPropagator` against the SDK's two propagators, for a sampled
//! context carrying the baggage every checkout carries. Prints nanoseconds
//! per operation.
//!
//! `cargo bench -p service-telemetry --bench propagation [-- MODE [ROUNDS]]`
//! with MODE `both` (the default), `ours-inject`, `ours-extract`,
//! `sdk-inject`, `sdk-extract` or `none` (the set-up alone). For
//! instructions, run the built binary under `valgrind --tool=callgrind`
//! once per mode: (mode − none) ÷ ROUNDS is the instructions per header
//! set.

use std::{hint::black_box, time::Instant};

use http::{HeaderMap, HeaderValue};
use service_telemetry::{
    opentelemetry::{
        Context, global,
        propagation::{TextMapCompositePropagator, TextMapPropagator},
    },
    opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator},
    propagation::{W3cPropagator, extract, inject},
};

/// What a checkout's request carries: the load generator's baggage and a
/// sampled parent.
fn request_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        "traceparent",
        HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    );
    headers.insert(
        "baggage",
        HeaderValue::from_static("synthetic_request=true"),
    );
    headers
}

fn install(ours: bool) {
    if ours {
        global::set_text_map_propagator(W3cPropagator::new(true, true));
    } else {
        let sdk: Vec<Box<dyn TextMapPropagator + Send + Sync>> = vec![
            Box::new(TraceContextPropagator::new()),
            Box::new(BaggagePropagator::new()),
        ];
        global::set_text_map_propagator(TextMapCompositePropagator::new(sdk));
    }
}

/// Extracts `rounds` times; the context of the last.
fn extracting(headers: &HeaderMap, rounds: u32) -> Context {
    let mut context = Context::new();
    for _ in 0..rounds {
        context = black_box(extract(black_box(headers)));
    }
    context
}

/// Injects `context` into a fresh request's headers `rounds` times.
fn injecting(context: &Context, rounds: u32) {
    for _ in 0..rounds {
        let mut headers = HeaderMap::new();
        inject(black_box(context), &mut headers);
        black_box(headers);
    }
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|arg| arg != "--bench");
    let mode = args.next().unwrap_or_else(|| "both".to_owned());
    let rounds: u32 = args.next().and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let headers = request_headers();
    // Set-up common to every mode: both propagators' contexts made once.
    install(true);
    let context = extracting(&headers, 1);
    match mode.as_str() {
        "none" => {}
        "ours-inject" => injecting(&context, rounds),
        "ours-extract" => drop(extracting(&headers, rounds)),
        "sdk-inject" => {
            install(false);
            injecting(&context, rounds);
        }
        "sdk-extract" => {
            install(false);
            drop(extracting(&headers, rounds));
        }
        _ => {
            for (name, ours) in [("W3cPropagator", true), ("the SDK's", false)] {
                install(ours);
                let started = Instant::now();
                injecting(&context, rounds);
                let inject_ns = started.elapsed().as_nanos() / u128::from(rounds);
                let started = Instant::now();
                drop(extracting(&headers, rounds));
                let extract_ns = started.elapsed().as_nanos() / u128::from(rounds);
                println!("{name:>14}: inject {inject_ns} ns, extract {extract_ns} ns");
            }
        }
    }
}
