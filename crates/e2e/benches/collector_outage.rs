//! What a broken collector costs a checkout: latency, throughput and each
//! service's memory with the collector up, refusing connections, answering
//! 503, and hanging.
//!
//! ```sh
//! cargo bench -p e2e --bench collector_outage
//! ```
//!
//! Release builds of the services (the suite builds them as this benchmark
//! is built), real Postgres, one fresh suite per case, the SDK's default
//! batch settings. Prints one table; the ratios compare each case to the
//! collector being up.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use e2e::{BrokenCollector, Failure, Service, Suite, SuiteOptions};
use tokio::task::JoinSet;

/// Every case runs once per round, in reverse order every other round, so
/// that the machine warming up or drifting does not favour one case.
const ROUNDS: usize = 2;
const WARM_UP: usize = 100;
const CHECKOUTS: usize = 1_000;
const CONCURRENCY: usize = 8;
const INSTRUMENTED: [Service; 5] = [
    Service::Gateway,
    Service::Users,
    Service::Orders,
    Service::Payments,
    Service::Notifications,
];

struct Measurement {
    case: &'static str,
    per_second: f64,
    p50: Duration,
    p99: Duration,
    /// Peak resident memory of each instrumented service, MiB.
    peak_rss_mib: Vec<f64>,
}

const CASES: [(&str, Option<Failure>); 4] = [
    ("collector up", None),
    ("connection refused", Some(Failure::Refusing)),
    ("503 Service Unavailable", Some(Failure::Unavailable)),
    ("accepts, never answers", Some(Failure::Hanging)),
];

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let mut rounds: Vec<Vec<Measurement>> = CASES.iter().map(|_| Vec::new()).collect();
    for round in 0..ROUNDS {
        let mut order: Vec<usize> = (0..CASES.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for index in order {
            let (case, failure) = CASES[index];
            rounds[index].push(runtime.block_on(measure(case, failure))?);
        }
    }
    let results: Vec<Measurement> = rounds.into_iter().map(|runs| average(&runs)).collect();
    print(&results);
    Ok(())
}

/// The mean of a case's rounds; the peak memory is the highest seen.
fn average(runs: &[Measurement]) -> Measurement {
    #[expect(clippy::cast_precision_loss, reason = "a handful of rounds")]
    let count = runs.len() as f64;
    let mean = |value: fn(&Measurement) -> f64| runs.iter().map(value).sum::<f64>() / count;
    Measurement {
        case: runs[0].case,
        per_second: mean(|run| run.per_second),
        p50: Duration::from_secs_f64(mean(|run| run.p50.as_secs_f64())),
        p99: Duration::from_secs_f64(mean(|run| run.p99.as_secs_f64())),
        peak_rss_mib: (0..runs[0].peak_rss_mib.len())
            .map(|service| {
                runs.iter()
                    .map(|run| run.peak_rss_mib[service])
                    .fold(0.0, f64::max)
            })
            .collect(),
    }
}

async fn measure(case: &'static str, failure: Option<Failure>) -> anyhow::Result<Measurement> {
    let broken = failure.map(BrokenCollector::start).transpose()?;
    // The SDK's defaults, not the tests' fast export: what users run.
    let mut options = SuiteOptions::default()
        .env("OTEL_BSP_SCHEDULE_DELAY", "5000")
        .env("OTEL_BLRP_SCHEDULE_DELAY", "1000");
    if let Some(broken) = &broken {
        options = options.env("OTEL_EXPORTER_OTLP_ENDPOINT", broken.endpoint());
    }
    let suite = Arc::new(Suite::start(options).await?);

    run(&suite, WARM_UP).await?;
    let started = Instant::now();
    let mut latencies = run(&suite, CHECKOUTS).await?;
    let elapsed = started.elapsed();
    latencies.sort();

    let peak_rss_mib = INSTRUMENTED
        .iter()
        .map(|service| peak_rss_mib(suite.pid(*service)))
        .collect();
    eprintln!("{case}: done");
    Ok(Measurement {
        case,
        #[expect(clippy::cast_precision_loss, reason = "a count far below 2^52")]
        per_second: CHECKOUTS as f64 / elapsed.as_secs_f64(),
        p50: latencies[latencies.len() / 2],
        p99: latencies[latencies.len() * 99 / 100],
        peak_rss_mib,
    })
}

/// `count` checkouts from `CONCURRENCY` callers; every one must succeed.
async fn run(suite: &Arc<Suite>, count: usize) -> anyhow::Result<Vec<Duration>> {
    let url = format!("{}/checkout", suite.url(Service::Gateway));
    let client = e2e::http_client();
    let body = serde_json::json!({
        "customer_id": "cus_1001",
        "items": [{"sku": "sku_mouse", "quantity": 1}],
        "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"},
    });
    let mut callers = JoinSet::new();
    for caller in 0..CONCURRENCY {
        let (client, url, body) = (client.clone(), url.clone(), body.clone());
        let share = count / CONCURRENCY + usize::from(caller < count % CONCURRENCY);
        callers.spawn(async move {
            let mut latencies = Vec::with_capacity(share);
            for _ in 0..share {
                let started = Instant::now();
                let response = client.post(&url).json(&body).send().await?;
                anyhow::ensure!(
                    response.status() == 201,
                    "checkout answered {}",
                    response.status()
                );
                latencies.push(started.elapsed());
            }
            anyhow::Ok(latencies)
        });
    }
    let mut latencies = Vec::with_capacity(count);
    while let Some(joined) = callers.join_next().await {
        latencies.extend(joined??);
    }
    Ok(latencies)
}

/// `VmHWM` from `/proc/<pid>/status`: the process's peak resident memory.
fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .unwrap_or(f64::NAN);
    kib / 1024.0
}

fn print(results: &[Measurement]) {
    let names: Vec<&str> = INSTRUMENTED.iter().map(|service| service.name()).collect();
    println!(
        "\n{CHECKOUTS} checkouts per run, {CONCURRENCY} concurrent callers, release builds, \
         mean of {ROUNDS} rounds in alternating order\n\n\
         | case | checkouts/s | p50 ms | p99 ms | peak RSS MiB ({}) | throughput vs up | p99 vs up |",
        names.join(" / ")
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    let up = &results[0];
    for result in results {
        let rss: Vec<String> = result
            .peak_rss_mib
            .iter()
            .map(|mib| format!("{mib:.1}"))
            .collect();
        println!(
            "| {} | {:.0} | {:.2} | {:.2} | {} | {:.2} | {:.2} |",
            result.case,
            result.per_second,
            result.p50.as_secs_f64() * 1e3,
            result.p99.as_secs_f64() * 1e3,
            rss.join(" / "),
            result.per_second / up.per_second,
            result.p99.as_secs_f64() / up.p99.as_secs_f64(),
        );
    }
}
