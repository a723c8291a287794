//! What tracing costs, in one run: the suite under the load generator's
//! traffic with telemetry (a) disabled, (b) exported, (c) the collector
//! refusing connections, (d) the collector hanging.
//!
//! ```sh
//! cargo bench -p e2e --bench tracing_cost             # the table, about 5 minutes
//! cargo bench -p e2e --bench tracing_cost -- --soak   # 5 minutes, collector hanging
//! ```
//!
//! Release builds of the services (the suite builds them as this benchmark
//! is built), a fresh suite with fresh databases for every measurement,
//! an OTLP receiver that discards what it gets. See `e2e::cost`.

use std::time::Duration;

use e2e::cost::{self, INSTRUMENTED, Phases};

const ROUNDS: usize = 2;
const SOAK_RATE: f64 = 100.0;
const SOAK_DURATION: Duration = Duration::from_mins(5);
const SOAK_EVERY: Duration = Duration::from_secs(30);

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    println!("{}", machine());
    if std::env::args().any(|argument| argument == "--soak") {
        return runtime.block_on(soak());
    }
    let phases = Phases::FULL;
    let results = runtime.block_on(cost::compare(phases, ROUNDS))?;
    println!(
        "\n{ROUNDS} rounds in alternating order, means; saturation: {} callers for {:?} after \
         {:?} of warm-up; open loop: {}/s for {:?}; approved checkouts only\n",
        phases.workers, phases.saturation, phases.warm_up, phases.rate, phases.open_loop
    );
    println!("{}", cost::table(&results, phases));
    Ok(())
}

async fn soak() -> anyhow::Result<()> {
    let names: Vec<&str> = INSTRUMENTED.iter().map(|service| service.name()).collect();
    println!(
        "soak: {SOAK_RATE}/s for {SOAK_DURATION:?}, the collector accepting and never answering\n\n\
         | minute | RSS MiB ({}) |\n| --- | --- |",
        names.join(" / ")
    );
    let summary = cost::soak(SOAK_RATE, SOAK_DURATION, SOAK_EVERY, |at, rss| {
        let rss: Vec<String> = rss.iter().map(|mib| format!("{mib:.1}")).collect();
        println!("| {:.1} | {} |", at.as_secs_f64() / 60.0, rss.join(" / "));
    })
    .await?;
    println!("\n{summary}");
    Ok(())
}

/// The machine, for the record: CPU model and count, memory.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .map_or("unknown CPU", |value| {
            value.trim_start_matches([' ', '\t', ':'])
        });
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .map_or("?", str::trim);
    format!("machine: {model}, {cores} cores available, {memory} memory")
}
