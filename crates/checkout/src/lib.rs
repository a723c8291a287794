//! `checkout`: sends checkouts to the suite's gateway and shows their traces.
//!
//! ```text
//! cargo run -p checkout                          # one checkout, its trace as a tree
//! cargo run -p checkout -- --declined            # 402, order kept, payment span in error
//! cargo run -p checkout -- --count 50 --concurrency 5   # a line each, then a summary
//! ```
//!
//! Each answer is one line: status, latency, order id, the problem's kind
//! and detail if it failed, the trace id from the `traceresponse` header and
//! a Grafana Explore link to that trace. After a single checkout the tool
//! waits for Tempo to have the trace and prints it as an indented tree.
//!
//! It is an outside caller, as a browser or a partner's server would be: it
//! sends no `traceparent`, so the gateway starts each trace.
//!
//! # Layout
//!
//! - `cli`: [`Cli`], the flags, and the request body they stand for.
//! - `send`: one `POST /checkout`, and its [`Outcome`] as a line.
//! - `trace_context`: the `traceresponse` header.
//! - `grafana`: the Explore link to a trace.
//! - `tempo`: reading a trace back from Tempo's HTTP API.
//! - `tree`: a trace as indented text.
//! - `summary`: the closing line of a `--count` run.

pub mod cli;
pub mod grafana;
pub mod send;
pub mod summary;
pub mod tempo;
pub mod trace_context;
pub mod tree;

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use tokio::task::JoinSet;

pub use cli::Cli;
pub use send::Outcome;
pub use tempo::Patience;

/// Sends what `cli` asks for and writes the report to `out`. Fails only
/// when `out` does; the exit code is a failure when a checkout got no
/// answer at all (a 4xx or 5xx is an answer, and often the one asked for).
pub async fn run(cli: &Cli, patience: Patience, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let client = http_client()?;
    let outcomes = send_all(&client, cli, out).await?;
    if outcomes.len() > 1 {
        writeln!(out, "{}", summary::summary(&outcomes))?;
    }
    if let [single] = outcomes.as_slice()
        && let Some(trace) = single.trace()
        && !cli.no_trace
    {
        show_trace(&client, cli, &trace.trace_id, patience, out).await?;
    }
    let all_answered = outcomes.iter().all(|outcome| outcome.result.is_ok());
    Ok(if all_answered {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Sends `cli.count` checkouts, at most `cli.concurrency` at a time, and
/// writes each line as its answer comes.
async fn send_all(
    client: &reqwest::Client,
    cli: &Cli,
    out: &mut impl Write,
) -> anyhow::Result<Vec<Outcome>> {
    let body = cli.checkout_request();
    let spawn = |in_flight: &mut JoinSet<Outcome>| {
        let (client, gateway, body) = (client.clone(), cli.gateway.clone(), body.clone());
        let headers = cli.headers();
        in_flight.spawn(async move { send::send(&client, &gateway, &body, &headers).await });
    };
    let mut in_flight = JoinSet::new();
    let mut sent = 0;
    while sent < cli.count && sent < cli.concurrency {
        spawn(&mut in_flight);
        sent += 1;
    }
    let mut outcomes = Vec::new();
    while let Some(done) = in_flight.join_next().await {
        let outcome = done?;
        writeln!(out, "{}", outcome.line(&cli.grafana))?;
        outcomes.push(outcome);
        if sent < cli.count {
            spawn(&mut in_flight);
            sent += 1;
        }
    }
    Ok(outcomes)
}

/// Waits for the trace in Tempo and prints it as a tree. Tempo being down
/// or slow is reported in a line, never as a failure of the run.
async fn show_trace(
    client: &reqwest::Client,
    cli: &Cli,
    trace_id: &str,
    patience: Patience,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    writeln!(
        out,
        "waiting for trace {trace_id} in Tempo (up to {} s)...",
        patience.total.as_secs()
    )?;
    match tempo::wait_for_trace(client, &cli.tempo, trace_id, patience).await {
        Ok(spans) if spans.is_empty() => writeln!(
            out,
            "Tempo has no trace {trace_id} yet; the Grafana link shows it once it is ingested"
        )?,
        Ok(spans) => write!(out, "{}", tree::render(&spans))?,
        Err(error) => writeln!(
            out,
            "{:#}: start the stack (`docker compose up`) or, without Docker, \
             `scripts/run-native.sh`, which keeps traces for this tool",
            anyhow::Error::new(error)
        )?,
    }
    Ok(())
}

/// The one HTTP client of the tool.
#[expect(
    clippy::disallowed_methods,
    reason = "an outside caller: its requests carry no trace context, the gateway starts the trace"
)]
fn http_client() -> reqwest::Result<reqwest::Client> {
    // reqwest is built with rustls and no crypto provider of its own in
    // this workspace (the telemetry crate's `tls` feature brings ring):
    // make ring the process's default before building a client.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
}
