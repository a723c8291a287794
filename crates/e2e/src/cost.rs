//! What tracing costs: the suite under the load generator's traffic in four
//! telemetry configurations, one fresh suite (fresh databases) at a time.
//!
//! - (a) telemetry disabled (`OTEL_SDK_DISABLED=true`), the baseline;
//! - (b) every trace sampled and exported, with logs and metrics, to a
//!   receiver that discards it;
//! - (b′) the same without metrics (`OTEL_METRICS_EXPORTER=none`), to tell
//!   what metrics cost;
//! - (c) every trace sampled, the collector refusing connections;
//! - (d) every trace sampled, the collector accepting and never answering.
//!
//! For each: throughput at saturation (closed loop), p50/p99 at a fixed
//! moderate rate (open loop, latency from each request's scheduled time),
//! each service's peak RSS, and its CPU time per checkout from `/proc`.
//! The benchmark (`cargo bench -p e2e --bench tracing_cost`) runs rounds in
//! alternating order and prints [`table`]; a smoke test runs one short
//! round in CI.

use std::{
    fmt::Write as _,
    time::{Duration, Instant},
};

use anyhow::Context;
use loadgen::{Limit, Load, Mix, Weights};
use url::Url;

use crate::{BrokenCollector, Failure, ProcessStats, Service, Suite, SuiteOptions, process_stats};

/// The services that carry telemetry, in the order the table lists them.
pub const INSTRUMENTED: [Service; 5] = [
    Service::Gateway,
    Service::Users,
    Service::Orders,
    Service::Payments,
    Service::Notifications,
];

/// The configurations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Telemetry {
    Disabled,
    Exported,
    ExportedWithoutMetrics,
    CollectorRefusing,
    CollectorHanging,
}

impl Telemetry {
    pub const ALL: [Self; 5] = [
        Self::Disabled,
        Self::Exported,
        Self::ExportedWithoutMetrics,
        Self::CollectorRefusing,
        Self::CollectorHanging,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::Disabled => "(a) telemetry disabled",
            Self::Exported => "(b) every trace exported, with metrics",
            Self::ExportedWithoutMetrics => "(b′) every trace exported, no metrics",
            Self::CollectorRefusing => "(c) collector refusing",
            Self::CollectorHanging => "(d) collector hanging",
        }
    }

    /// Whether spans reach the receiver.
    pub fn exports(self) -> bool {
        matches!(self, Self::Exported | Self::ExportedWithoutMetrics)
    }

    pub(crate) fn broken_collector(self) -> Option<Failure> {
        match self {
            Self::CollectorRefusing => Some(Failure::Refusing),
            Self::CollectorHanging => Some(Failure::Hanging),
            Self::Disabled | Self::Exported | Self::ExportedWithoutMetrics => None,
        }
    }
}

/// How long each part of a measurement lasts.
#[derive(Clone, Copy, Debug)]
pub struct Phases {
    /// Closed loop before measuring: connections, pools, caches.
    pub warm_up: Duration,
    pub workers: usize,
    pub saturation: Duration,
    /// Requests per second of the open loop: well under saturation, the
    /// same for every configuration.
    pub rate: f64,
    pub open_loop: Duration,
    /// `OTEL_METRIC_EXPORT_INTERVAL`: several exports within a measurement
    /// (the default, a minute, would export none).
    pub metric_export_interval: Duration,
}

impl Phases {
    pub const FULL: Self = Self {
        warm_up: Duration::from_secs(3),
        workers: 16,
        saturation: Duration::from_secs(15),
        rate: 100.0,
        open_loop: Duration::from_secs(15),
        metric_export_interval: Duration::from_secs(5),
    };

    /// Seconds, not minutes: does every configuration produce numbers?
    pub const SMOKE: Self = Self {
        warm_up: Duration::from_millis(300),
        workers: 4,
        saturation: Duration::from_secs(1),
        rate: 20.0,
        open_loop: Duration::from_secs(1),
        metric_export_interval: Duration::from_millis(300),
    };
}

/// One configuration, measured once.
#[derive(Clone, Debug)]
pub struct Measurement {
    pub telemetry: Telemetry,
    /// Checkouts per second in the closed loop.
    pub saturation_rate: f64,
    /// Checkouts of the two measured phases answered other than 201.
    pub failed: u64,
    /// Open loop, from each request's scheduled time.
    pub p50: Duration,
    pub p99: Duration,
    /// Per service of [`INSTRUMENTED`], MiB.
    pub peak_rss_mib: Vec<f64>,
    /// Per service of [`INSTRUMENTED`], over the saturation phase.
    pub cpu_per_checkout: Vec<Duration>,
    /// The share of the services' CPU time over the saturation phase that
    /// was spent in the kernel (system time): sockets, pipes, futexes.
    pub kernel_share: f64,
    /// Every `postgres` process of the local server, over the saturation
    /// phase (the suite is alone on it during a benchmark).
    pub postgres_cpu_per_checkout: Duration,
    /// Transactions in the suite's databases, per checkout sent (every
    /// phase; migrations and background work included).
    pub transactions_per_checkout: f64,
    /// Statements' spans received per checkout sent: the statements the
    /// suite makes, but for the few it leaves untraced (the relay's and
    /// the reconciler's scans). Zero unless spans are exported.
    pub statements_per_checkout: f64,
    /// What reached the receiver (zero unless spans are exported).
    pub spans_received: usize,
    /// Their export requests' size as OTLP protobuf, for `docs/scaling.md`.
    pub span_bytes_received: usize,
    /// Metric data points that reached the receiver.
    pub metric_points_received: usize,
}

/// The suite as users run it, in `telemetry`'s configuration: the SDK's
/// default batching, faults off, the reconciler at its default pace.
pub async fn start_suite(
    telemetry: Telemetry,
    metric_export_interval: Duration,
) -> anyhow::Result<(Suite, Option<BrokenCollector>)> {
    let broken = telemetry
        .broken_collector()
        .map(BrokenCollector::start)
        .transpose()?;
    let mut options = suite_options(telemetry, metric_export_interval);
    if let Some(broken) = &broken {
        options = options.env("OTEL_EXPORTER_OTLP_ENDPOINT", broken.endpoint());
    }
    let suite = Suite::start(options).await?;
    Ok((suite, broken))
}

/// [`start_suite`]'s options, but for a broken collector's endpoint.
pub(crate) fn suite_options(
    telemetry: Telemetry,
    metric_export_interval: Duration,
) -> SuiteOptions {
    let options = SuiteOptions {
        discard_telemetry: true,
        ..SuiteOptions::default()
    }
    .env("OTEL_BSP_SCHEDULE_DELAY", "5000")
    .env("OTEL_BLRP_SCHEDULE_DELAY", "1000")
    .env("FAULTS_ENABLED", "false")
    .env("RECONCILE_INTERVAL_MS", "10000")
    // Spans at INFO, as in production; the JSON log lines a checkout
    // writes are part of what is measured.
    .env("RUST_LOG", "info")
    .env(
        "OTEL_METRIC_EXPORT_INTERVAL",
        metric_export_interval.as_millis().to_string(),
    );
    match telemetry {
        Telemetry::Disabled => options.env("OTEL_SDK_DISABLED", "true"),
        Telemetry::ExportedWithoutMetrics => options.env("OTEL_METRICS_EXPORTER", "none"),
        _ => options,
    }
}

pub async fn measure(telemetry: Telemetry, phases: Phases) -> anyhow::Result<Measurement> {
    let (suite, _broken) = start_suite(telemetry, phases.metric_export_interval).await?;
    let gateway = Url::parse(&suite.url(Service::Gateway))?;
    let client = loadgen::http_client()?;
    let mut mix = Mix::new(Weights::APPROVED_ONLY, 7);
    let closed = Load::Closed {
        workers: phases.workers,
    };
    let phase = async |load, duration, mix: &mut Mix| {
        loadgen::run(
            &client,
            &gateway,
            load,
            Limit::Duration(duration),
            mix,
            |_| {},
            std::future::pending(),
        )
        .await
    };

    let warm_up = phase(closed, phases.warm_up, &mut mix).await;
    let before = readings(&suite)?;
    let postgres_before = process_stats::cpu_of_processes_named("postgres")?;
    let saturation = phase(closed, phases.saturation, &mut mix).await;
    let after = readings(&suite)?;
    let postgres_after = process_stats::cpu_of_processes_named("postgres")?;
    let open = phase(Load::open(phases.rate), phases.open_loop, &mut mix).await;

    let checkouts =
        u32::try_from(saturation.count(loadgen::Outcome::Status(201)).max(1)).unwrap_or(u32::MAX);
    let cpu_per_checkout = before
        .iter()
        .zip(&after)
        .map(|(before, after)| after.cpu.saturating_sub(before.cpu) / checkouts)
        .collect();
    let used = |cpu: fn(&ProcessStats) -> Duration| -> Duration {
        (before.iter().zip(&after))
            .map(|(before, after)| cpu(after).saturating_sub(cpu(before)))
            .sum()
    };
    let kernel_share = used(|stats| stats.system_cpu).as_secs_f64()
        / used(|stats| stats.cpu).as_secs_f64().max(1e-9);
    let peak_rss_mib = INSTRUMENTED
        .iter()
        .map(|service| ProcessStats::read(suite.pid(*service)).map(|stats| stats.peak_rss_mib))
        .collect::<anyhow::Result<_>>()?;
    let failed = [&saturation, &open]
        .iter()
        .map(|summary| summary.requests() - summary.count(loadgen::Outcome::Status(201)))
        .sum();

    // Stopped, the services flush their last spans and Postgres counts
    // their last transactions.
    tokio::task::block_in_place(|| suite.stop_all());
    let transactions = tokio::task::block_in_place(|| suite.database_transactions())?;
    #[expect(clippy::cast_precision_loss, reason = "counts far below 2^52")]
    let sent = [&warm_up, &saturation, &open]
        .iter()
        .map(|summary| summary.requests())
        .sum::<u64>()
        .max(1) as f64;
    #[expect(clippy::cast_precision_loss, reason = "counts far below 2^52")]
    let statements = suite.receiver().statement_span_count() as f64;
    Ok(Measurement {
        telemetry,
        saturation_rate: saturation.rate(),
        failed,
        p50: open.latency(0.50),
        p99: open.latency(0.99),
        peak_rss_mib,
        cpu_per_checkout,
        kernel_share,
        postgres_cpu_per_checkout: postgres_after.saturating_sub(postgres_before) / checkouts,
        #[expect(clippy::cast_precision_loss, reason = "counts far below 2^52")]
        transactions_per_checkout: transactions as f64 / sent,
        statements_per_checkout: statements / sent,
        spans_received: suite.receiver().span_count(),
        span_bytes_received: suite.receiver().span_bytes(),
        metric_points_received: suite.receiver().metric_point_count(),
    })
}

fn readings(suite: &Suite) -> anyhow::Result<Vec<ProcessStats>> {
    INSTRUMENTED
        .iter()
        .map(|service| {
            ProcessStats::read(suite.pid(*service))
                .with_context(|| format!("reading {service}'s CPU time"))
        })
        .collect()
}

/// Measures every configuration `rounds` times, in reverse order every
/// other round so that a machine warming up or drifting favours none, and
/// returns each configuration's mean (peak memory: the highest seen).
pub async fn compare(phases: Phases, rounds: usize) -> anyhow::Result<Vec<Measurement>> {
    let mut runs: Vec<Vec<Measurement>> = Telemetry::ALL.iter().map(|_| Vec::new()).collect();
    for round in 0..rounds {
        let mut order: Vec<usize> = (0..Telemetry::ALL.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for index in order {
            eprintln!("round {}: {}", round + 1, Telemetry::ALL[index].label());
            runs[index].push(measure(Telemetry::ALL[index], phases).await?);
        }
    }
    Ok(runs.iter().map(|runs| mean(runs)).collect())
}

fn mean(runs: &[Measurement]) -> Measurement {
    #[expect(clippy::cast_precision_loss, reason = "a handful of rounds")]
    let count = runs.len() as f64;
    let mean_of = |value: &dyn Fn(&Measurement) -> f64| runs.iter().map(value).sum::<f64>() / count;
    let services = 0..INSTRUMENTED.len();
    Measurement {
        telemetry: runs[0].telemetry,
        saturation_rate: mean_of(&|run| run.saturation_rate),
        failed: runs.iter().map(|run| run.failed).sum(),
        p50: Duration::from_secs_f64(mean_of(&|run| run.p50.as_secs_f64())),
        p99: Duration::from_secs_f64(mean_of(&|run| run.p99.as_secs_f64())),
        peak_rss_mib: services
            .clone()
            .map(|service| {
                runs.iter()
                    .map(|run| run.peak_rss_mib[service])
                    .fold(0.0, f64::max)
            })
            .collect(),
        cpu_per_checkout: services
            .map(|service| {
                Duration::from_secs_f64(mean_of(&|run| run.cpu_per_checkout[service].as_secs_f64()))
            })
            .collect(),
        kernel_share: mean_of(&|run| run.kernel_share),
        postgres_cpu_per_checkout: Duration::from_secs_f64(mean_of(&|run| {
            run.postgres_cpu_per_checkout.as_secs_f64()
        })),
        transactions_per_checkout: mean_of(&|run| run.transactions_per_checkout),
        statements_per_checkout: mean_of(&|run| run.statements_per_checkout),
        spans_received: runs.iter().map(|run| run.spans_received).sum(),
        span_bytes_received: runs.iter().map(|run| run.span_bytes_received).sum(),
        metric_points_received: runs.iter().map(|run| run.metric_points_received).sum(),
    }
}

/// The mean size of an exported span, its share of the export request
/// (resource and scope included); "-" when nothing was exported.
fn bytes_per_span(result: &Measurement) -> String {
    if result.spans_received == 0 {
        return "-".to_owned();
    }
    #[expect(clippy::cast_precision_loss, reason = "sizes far below 2^52")]
    let mean = result.span_bytes_received as f64 / result.spans_received as f64;
    format!("{mean:.0}")
}

/// The results as one Markdown table, then the ratios to (a).
pub fn table(results: &[Measurement], phases: Phases) -> String {
    let names: Vec<&str> = INSTRUMENTED.iter().map(|service| service.name()).collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| configuration | checkouts/s at saturation ({} callers) | p50 ms at {}/s | p99 ms at {}/s \
         | peak RSS MiB ({}) | total MiB | CPU µs per checkout ({}) | total µs | of it in the kernel \
         | Postgres CPU µs per checkout \
         | Postgres transactions per checkout | statements per checkout (traced) | not 201 | spans received \
         | OTLP bytes per span | metric points received |",
        phases.workers,
        phases.rate,
        phases.rate,
        names.join(" / "),
        names.join(" / "),
    );
    let _ = writeln!(out, "|{}", " --- |".repeat(16));
    for result in results {
        let rss: Vec<String> = result
            .peak_rss_mib
            .iter()
            .map(|mib| format!("{mib:.1}"))
            .collect();
        let cpu: Vec<String> = result
            .cpu_per_checkout
            .iter()
            .map(|cpu| format!("{}", cpu.as_micros()))
            .collect();
        let _ = writeln!(
            out,
            "| {} | {:.0} | {:.2} | {:.2} | {} | {:.1} | {} | {} | {:.0} % | {} | {:.1} | {:.1} | {} | {} | {} | {} |",
            result.telemetry.label(),
            result.saturation_rate,
            millis(result.p50),
            millis(result.p99),
            rss.join(" / "),
            result.peak_rss_mib.iter().sum::<f64>(),
            cpu.join(" / "),
            result.cpu_per_checkout.iter().sum::<Duration>().as_micros(),
            result.kernel_share * 100.0,
            result.postgres_cpu_per_checkout.as_micros(),
            result.transactions_per_checkout,
            result.statements_per_checkout,
            result.failed,
            result.spans_received,
            bytes_per_span(result),
            result.metric_points_received,
        );
    }
    if let Some(baseline) = results
        .iter()
        .find(|result| result.telemetry == Telemetry::Disabled)
    {
        let cpu = |result: &Measurement| {
            result
                .cpu_per_checkout
                .iter()
                .sum::<Duration>()
                .as_secs_f64()
        };
        let _ = writeln!(
            out,
            "\n| ratio to (a) | throughput | p99 | services' CPU per checkout |\n| --- | --- | --- | --- |"
        );
        for result in results
            .iter()
            .filter(|result| result.telemetry != Telemetry::Disabled)
        {
            let _ = writeln!(
                out,
                "| {} | {:.2} | {:.2} | {:.2} |",
                result.telemetry.label(),
                result.saturation_rate / baseline.saturation_rate,
                millis(result.p99) / millis(baseline.p99),
                cpu(result) / cpu(baseline),
            );
        }
    }
    let find = |telemetry| results.iter().find(|result| result.telemetry == telemetry);
    if let (Some(with), Some(without)) = (
        find(Telemetry::Exported),
        find(Telemetry::ExportedWithoutMetrics),
    ) {
        let cpu = |result: &Measurement| result.cpu_per_checkout.iter().sum::<Duration>();
        let rss: Vec<String> = with
            .peak_rss_mib
            .iter()
            .zip(&without.peak_rss_mib)
            .map(|(with, without)| format!("{:+.1}", with - without))
            .collect();
        let _ = writeln!(
            out,
            "\nwhat metrics cost, (b) against (b′): CPU per checkout {:.3}×, peak RSS MiB per service {}",
            cpu(with).as_secs_f64() / cpu(without).as_secs_f64(),
            rss.join(" / "),
        );
    }
    out
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// Runs the open loop at `rate` for `duration` with the collector hanging,
/// and calls `report` with each service's RSS every `every`: the memory of
/// a long outage must stay flat (a bounded queue, spans dropped and
/// counted).
pub async fn soak(
    rate: f64,
    duration: Duration,
    every: Duration,
    mut report: impl FnMut(Duration, &[f64]),
) -> anyhow::Result<loadgen::Summary> {
    let (suite, _broken) = start_suite(
        Telemetry::CollectorHanging,
        Phases::FULL.metric_export_interval,
    )
    .await?;
    let gateway = Url::parse(&suite.url(Service::Gateway))?;
    let client = loadgen::http_client()?;
    let mut mix = Mix::new(Weights::APPROVED_ONLY, 11);
    let started = Instant::now();
    let sample = || -> anyhow::Result<Vec<f64>> {
        INSTRUMENTED
            .iter()
            .map(|service| ProcessStats::read(suite.pid(*service)).map(|stats| stats.rss_mib))
            .collect()
    };
    report(Duration::ZERO, &sample()?);
    let load = loadgen::run(
        &client,
        &gateway,
        Load::open(rate),
        Limit::Duration(duration),
        &mut mix,
        |_| {},
        std::future::pending(),
    );
    let sampling = async {
        let mut ticks = tokio::time::interval(every);
        ticks.tick().await;
        while started.elapsed() + every <= duration {
            ticks.tick().await;
            match sample() {
                Ok(rss) => report(started.elapsed(), &rss),
                Err(error) => eprintln!("soak: {error:#}"),
            }
        }
    };
    let (summary, ()) = tokio::join!(load, sampling);
    Ok(summary)
}
