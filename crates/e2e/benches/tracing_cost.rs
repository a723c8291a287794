//! What tracing costs, in one run: the suite under the load generator's
//! traffic with telemetry (a) disabled, (b) exported, (c) the collector
//! refusing connections, (d) the collector hanging.
//!
//! ```sh
//! cargo bench -p e2e --bench tracing_cost             # the table, about 5 minutes
//! cargo bench -p e2e --bench tracing_cost -- --soak   # 5 minutes, collector hanging
//! cargo bench -p e2e --bench tracing_cost -- --instructions  # only the instruction counts
//! ```
//!
//! The table is followed by each service's instructions per checkout with
//! telemetry off and exported (`e2e::instructions`, under valgrind).
//!
//! Release builds of the services (the suite builds them as this benchmark
//! is built), a fresh suite with fresh databases for every measurement,
//! an OTLP receiver that discards what it gets. See `e2e::cost`.

use std::time::Duration;

use e2e::{
    cost::{self, INSTRUMENTED, Phases, Telemetry},
    instructions,
};

const ROUNDS: usize = 2;
const SOAK_RATE: f64 = 100.0;
const SOAK_DURATION: Duration = Duration::from_mins(5);
const SOAK_EVERY: Duration = Duration::from_secs(30);
/// Checkouts counted under callgrind, per configuration.
const COUNTED_CHECKOUTS: u64 = 200;

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    println!("{}", machine());
    if std::env::args().any(|argument| argument == "--soak") {
        return runtime.block_on(soak());
    }
    if std::env::args().any(|argument| argument == "--instructions") {
        return runtime.block_on(count_instructions());
    }
    let phases = Phases::FULL;
    let results = runtime.block_on(cost::compare(phases, ROUNDS))?;
    println!(
        "\n{ROUNDS} rounds in alternating order, means; saturation: {} callers for {:?} after \
         {:?} of warm-up; open loop: {}/s for {:?}; approved checkouts only\n",
        phases.workers, phases.saturation, phases.warm_up, phases.rate, phases.open_loop
    );
    println!("{}", cost::table(&results, phases));
    runtime.block_on(count_instructions())
}

async fn count_instructions() -> anyhow::Result<()> {
    let folder = std::env::temp_dir().join("e2e-callgrind");
    let mut counts = Vec::new();
    for telemetry in [Telemetry::Disabled, Telemetry::Exported] {
        eprintln!("instructions: {}", telemetry.label());
        let configuration = format!("{telemetry:?}").to_lowercase();
        let count =
            instructions::count(telemetry, COUNTED_CHECKOUTS, &folder.join(configuration)).await?;
        counts.push(count);
    }
    println!(
        "\ninstructions per checkout under callgrind: {COUNTED_CHECKOUTS} approved checkouts, one \
         caller, after a warm-up; the card processor not counted\n"
    );
    println!("{}", instructions::table(&counts));
    println!(
        "where they go: each part the inclusive count of the functions that do it \
         (`callgrind_annotate --inclusive=yes`), the parts apart\n"
    );
    println!("{}", instructions::breakdown_table(&counts)?);
    for count in &counts {
        for profile in &count.profiles {
            println!("profile: {}", profile.display());
        }
    }
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
