//! Without Docker: the services run natively, `trace-store` stands in for
//! the Collector and Tempo (as `scripts/run-native.sh` starts it), and
//! `cargo run -p checkout` prints the checkout's whole tree.

#![allow(
    clippy::expect_used,
    reason = "a failed check is a panic with the reason in its message"
)]

use std::{process::Stdio, time::Duration};

use e2e::{Suite, SuiteOptions};
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test(flavor = "multi_thread")]
async fn the_checkout_cli_prints_the_whole_tree_from_trace_store() -> anyhow::Result<()> {
    let mut store = tokio::process::Command::new(e2e::executable("trace-store")?)
        .env("OTLP_LISTEN_ADDR", "127.0.0.1:0")
        .env("QUERY_LISTEN_ADDR", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = BufReader::new(store.stdout.take().expect("piped")).lines();
    let (mut otlp, mut query) = (None, None);
    while otlp.is_none() || query.is_none() {
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await??
            .ok_or_else(|| anyhow::anyhow!("trace-store exited before listening"))?;
        let url = line.rsplit(' ').next().unwrap_or_default().to_owned();
        if line.contains("OTLP/HTTP") {
            otlp = Some(url);
        } else if line.contains("Tempo API") {
            query = Some(url);
        }
    }
    let (otlp, query) = (otlp.expect("set"), query.expect("set"));

    // The suite's services, exporting to trace-store instead of a receiver.
    let suite =
        Suite::start(SuiteOptions::default().env("OTEL_EXPORTER_OTLP_ENDPOINT", &otlp)).await?;
    let output = tokio::process::Command::new(e2e::executable("checkout")?)
        .args(["--gateway", &suite.url(e2e::Service::Gateway)])
        .args(["--tempo", &query])
        .output()
        .await?;
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{printed}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // The tree: all five services, the NATS hop, Postgres.
    for expected in [
        "gateway",
        "POST /checkout",
        "GET /users/{customer_id}",
        "POST /orders",
        "POST /payments",
        "POST /notifications",
        "send orders.confirmed",
        "process orders.confirmed",
        "INSERT notifications",
        "SELECT users",
    ] {
        assert!(printed.contains(expected), "no {expected:?} in:\n{printed}");
    }
    Ok(())
}
