//! Instructions per checkout, per service, counted by `valgrind
//! --tool=callgrind`: unlike CPU time on a shared two-core machine, which
//! moves by 5–10 % between runs, the count is the same for the same
//! inputs whatever else the machine does, so a regression of a few
//! percent shows.
//!
//! The five services run under callgrind (the card processor, a stand-in,
//! natively). After a warm-up every service's counters are zeroed
//! (`callgrind_control --zero`); one caller then sends the checkouts, the
//! suite is left to finish what they started (the events, the last
//! export), and each service dumps what it counted since the zero
//! (`callgrind_control --dump`). Every thread counts: the exporter's work
//! is a checkout's too. The profiles stay on disk for
//! `callgrind_annotate --inclusive=yes <profile>`.

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail, ensure};
use loadgen::{Limit, Load, Mix, Weights};
use url::Url;

use crate::{
    Service, Suite,
    cost::{INSTRUMENTED, Telemetry, suite_options},
};

/// Checkouts before the counters are zeroed: connections, pools, the
/// statements prepared, lazily built state.
const WARM_UP: u64 = 20;
/// The SDK's batch delay (the suite's 5 s) with a margin: the last
/// checkouts' spans are exported, and counted, before the dump.
const SETTLE: Duration = Duration::from_secs(7);
/// How long a service under callgrind may take to write its dump.
const DUMP_TIMEOUT: Duration = Duration::from_mins(1);
/// `OTEL_METRIC_EXPORT_INTERVAL` as the SDK defaults it: metric export
/// is paid per minute, not per checkout.
const METRIC_EXPORT_INTERVAL: Duration = Duration::from_mins(1);

/// One configuration's count.
#[derive(Clone, Debug)]
pub struct Instructions {
    pub telemetry: Telemetry,
    pub checkouts: u64,
    /// Per service of [`INSTRUMENTED`].
    pub per_checkout: Vec<u64>,
    /// Per service of [`INSTRUMENTED`], the profile of the counted part.
    pub profiles: Vec<PathBuf>,
}

/// Counts each service's instructions over `checkouts` approved checkouts
/// sent one at a time, writing the profiles into `folder` (emptied first).
pub async fn count(
    telemetry: Telemetry,
    checkouts: u64,
    folder: &Path,
) -> anyhow::Result<Instructions> {
    ensure!(
        telemetry.broken_collector().is_none(),
        "instructions are counted with a working collector or none"
    );
    ensure!(
        Command::new("valgrind")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|status| status.success()),
        "counting instructions needs valgrind (Debian: apt install valgrind)"
    );
    if folder.exists() {
        std::fs::remove_dir_all(folder)
            .with_context(|| format!("emptying {}", folder.display()))?;
    }
    std::fs::create_dir_all(folder)?;
    let mut options = suite_options(telemetry, METRIC_EXPORT_INTERVAL);
    options.callgrind = Some(folder.to_owned());
    let suite = Suite::start(options).await?;

    let gateway = Url::parse(&suite.url(Service::Gateway))?;
    let client = loadgen::http_client()?;
    let mut mix = Mix::new(Weights::APPROVED_ONLY, 7);
    let mut send = async |count| {
        let summary = loadgen::run(
            &client,
            &gateway,
            Load::Closed { workers: 1 },
            Limit::Count(count),
            &mut mix,
            |_| {},
            std::future::pending(),
        )
        .await;
        let approved = summary.count(loadgen::Outcome::Status(201));
        ensure!(
            approved == count,
            "{approved} of {count} checkouts were approved under callgrind"
        );
        anyhow::Ok(())
    };
    send(WARM_UP).await?;
    tokio::time::sleep(SETTLE).await;
    let pids: Vec<u32> = INSTRUMENTED
        .iter()
        .map(|service| suite.pid(*service))
        .collect();
    for pid in &pids {
        callgrind_control("--zero", *pid)?;
    }
    send(checkouts).await?;
    tokio::time::sleep(SETTLE).await;
    for pid in &pids {
        callgrind_control("--dump", *pid)?;
    }
    let mut per_checkout = Vec::new();
    let mut profiles = Vec::new();
    for (service, pid) in INSTRUMENTED.iter().zip(&pids) {
        let profile = folder.join(format!("{service}.{pid}.1"));
        let total = tokio::task::block_in_place(|| read_total(&profile))?;
        per_checkout.push(total / checkouts);
        profiles.push(profile);
    }
    tokio::task::block_in_place(|| suite.stop_all());
    Ok(Instructions {
        telemetry,
        checkouts,
        per_checkout,
        profiles,
    })
}

fn callgrind_control(command: &str, pid: u32) -> anyhow::Result<()> {
    let answer = valgrind_tool("callgrind_control", &[command, &pid.to_string()])?;
    // It exits 0 when it finds no such process, and says so.
    ensure!(
        !answer.contains("Error"),
        "callgrind_control {command} {pid}: {}",
        answer.trim()
    );
    Ok(())
}

/// Runs one of valgrind's scripts and returns what it printed.
fn valgrind_tool(program: &str, args: &[&str]) -> anyhow::Result<String> {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {program} (it comes with valgrind)"))?;
    ensure!(
        output.status.success(),
        "{program} {} failed ({}): {}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The `totals:` line of a dump, once callgrind has written it whole.
fn read_total(profile: &Path) -> anyhow::Result<u64> {
    let deadline = Instant::now() + DUMP_TIMEOUT;
    loop {
        let text = std::fs::read_to_string(profile).unwrap_or_default();
        if let Some(total) = text.lines().find_map(|line| line.strip_prefix("totals:")) {
            // The first event is `Ir`, instructions executed.
            let first = total.split_whitespace().next().unwrap_or_default();
            return first
                .parse()
                .with_context(|| format!("{}: totals {total:?}", profile.display()));
        }
        if Instant::now() >= deadline {
            bail!("{} has no totals after {DUMP_TIMEOUT:?}", profile.display());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The counts as a Markdown table, with each configuration's ratio to the
/// first.
pub fn table(counts: &[Instructions]) -> String {
    let mut columns: Vec<String> = (INSTRUMENTED.iter())
        .map(|service| service.name().to_owned())
        .collect();
    columns.push("total".to_owned());
    let mut out = header(&columns);
    let row = |values: Vec<String>, label: &str, out: &mut String| {
        let _ = writeln!(out, "| {label} | {} |", values.join(" | "));
    };
    for count in counts {
        let mut values: Vec<String> = count.per_checkout.iter().map(|n| thousands(*n)).collect();
        values.push(thousands(count.per_checkout.iter().sum()));
        row(values, count.telemetry.label(), &mut out);
    }
    if let Some((baseline, others)) = counts.split_first() {
        for other in others {
            #[expect(clippy::cast_precision_loss, reason = "counts far below 2^52")]
            let ratio = |with: u64, without: u64| format!("{:.2}", with as f64 / without as f64);
            let mut values: Vec<String> = (other.per_checkout.iter())
                .zip(&baseline.per_checkout)
                .map(|(with, without)| ratio(*with, *without))
                .collect();
            values.push(ratio(
                other.per_checkout.iter().sum(),
                baseline.per_checkout.iter().sum(),
            ));
            let label = format!("{} ÷ {}", short(other.telemetry), short(baseline.telemetry));
            row(values, &label, &mut out);
        }
    }
    out
}

/// One part of a service's work, in the profile: the functions that do it.
struct Part {
    name: &'static str,
    /// Functions (name endings) whose inclusive counts add up to the part.
    functions: &'static [&'static str],
    /// Functions inside those, counted in another part.
    less: &'static [&'static str],
}

/// Telemetry's parts of a checkout, which do not overlap; the rest is the
/// service's own work (HTTP, Postgres, NATS, JSON bodies, the runtime).
/// Metrics are exported once a minute ([`METRIC_EXPORT_INTERVAL`]), mostly
/// outside the counted checkouts: not a part.
/// The names are those of opentelemetry 0.33, tracing-opentelemetry 0.34
/// and tracing-subscriber 0.3: a part that reads 0 where it should not
/// has had a function renamed.
const PARTS: [Part; 7] = [
    Part {
        name: "spans: encoded and exported (own thread)",
        functions: &["BatchSpanProcessor::get_spans_and_export"],
        less: &[],
    },
    Part {
        name: "log records: encoded and exported (own thread)",
        functions: &["BatchLogProcessor::new::{{closure}}::get_logs_and_export"],
        less: &[],
    },
    Part {
        name: "spans: made, entered and exited, ended",
        functions: &[
            " tracing::span::Span::new",
            " tracing::span::Span::child_of",
            " tracing_core::dispatcher::Dispatch::enter",
            " tracing_core::dispatcher::Dispatch::exit",
            " tracing_core::dispatcher::Dispatch::record",
            " tracing_core::dispatcher::Dispatch::try_close",
        ],
        less: &[],
    },
    Part {
        name: "log lines: JSON on stdout",
        functions: &[
            "JsonWithTraceContext as tracing_subscriber::fmt::format::FormatEvent<S,N>>::format_event",
        ],
        less: &[],
    },
    Part {
        name: "log records: made (OTLP), with their span's context",
        functions: &["InSpanContext<L> as tracing_subscriber::layer::Layer<S>>::on_event"],
        less: &[
            "JsonWithTraceContext as tracing_subscriber::fmt::format::FormatEvent<S,N>>::format_event",
        ],
    },
    Part {
        name: "trace context: injected and extracted",
        functions: &[
            "W3cPropagator as opentelemetry::propagation::text_map_propagator::TextMapPropagator>::inject_context",
            "W3cPropagator as opentelemetry::propagation::text_map_propagator::TextMapPropagator>::extract_with_context",
        ],
        less: &[],
    },
    Part {
        name: "metrics: recorded",
        functions: &[
            "histogram::Histogram<T> as opentelemetry_sdk::metrics::internal::aggregate::Measure<T>>::call",
            "sum::Sum<T> as opentelemetry_sdk::metrics::internal::aggregate::Measure<T>>::call",
            "precomputed_sum::PrecomputedSum<T> as opentelemetry_sdk::metrics::internal::aggregate::Measure<T>>::call",
        ],
        less: &[],
    },
];

/// A service's instructions per checkout by part ([`PARTS`]), from its
/// profile, and its own work (the rest of its count) last.
fn breakdown(count: &Instructions, service: usize) -> anyhow::Result<Vec<u64>> {
    let profile = count.profiles[service].to_string_lossy();
    let annotated = valgrind_tool(
        "callgrind_annotate",
        &["--inclusive=yes", "--threshold=100", &profile],
    )?;
    let inclusive = inclusive_counts(&annotated);
    let per_checkout = |endings: &[&str]| -> u64 {
        let total: u64 = (inclusive.iter())
            .filter(|(function, _)| endings.iter().any(|ending| function.ends_with(ending)))
            .map(|(_, count)| count)
            .sum();
        total / count.checkouts
    };
    let mut parts: Vec<u64> = PARTS
        .iter()
        .map(|part| per_checkout(part.functions).saturating_sub(per_checkout(part.less)))
        .collect();
    parts.push(count.per_checkout[service].saturating_sub(parts.iter().sum()));
    Ok(parts)
}

/// `callgrind_annotate --inclusive=yes` lines, `   1,234 ( 0.50%)  file:function [binary]`,
/// as (" function", count). A function that calls itself is listed again
/// as `function'2`: only its outermost entry counts.
fn inclusive_counts(annotated: &str) -> Vec<(String, u64)> {
    annotated
        .lines()
        .filter_map(|line| {
            let (count, rest) = line.trim_start().split_once(' ')?;
            let count: u64 = count.replace(',', "").parse().ok()?;
            let (_, located) = rest.split_once(")  ")?;
            let (_file, function) = located.split_once(':')?;
            let function = function
                .rsplit_once(" [")
                .map_or(function, |(name, _)| name);
            (!function.contains('\'')).then(|| (format!(" {function}"), count))
        })
        .collect()
}

/// Each service's instructions per checkout by part, with telemetry off
/// and exported, as a Markdown table.
pub fn breakdown_table(counts: &[Instructions]) -> anyhow::Result<String> {
    let mut columns = Vec::new();
    let mut names = Vec::new();
    for (index, service) in INSTRUMENTED.iter().enumerate() {
        for count in counts {
            names.push(format!("{service} {}", short(count.telemetry)));
            columns.push(breakdown(count, index)?);
        }
    }
    let mut out = header(&names);
    let parts = PARTS.iter().map(|part| part.name);
    for (row, name) in parts.chain(["the service's own work"]).enumerate() {
        let cells: Vec<String> = columns
            .iter()
            .map(|column| thousands(column[row]))
            .collect();
        let _ = writeln!(out, "| {name} | {} |", cells.join(" | "));
    }
    Ok(out)
}

/// A Markdown table's first two lines, for instructions per checkout.
fn header(columns: &[String]) -> String {
    format!(
        "| instructions per checkout | {} |\n|{}\n",
        columns.join(" | "),
        " --- |".repeat(columns.len() + 1)
    )
}

/// "(b)" of "(b) every trace exported, with metrics".
fn short(telemetry: Telemetry) -> &'static str {
    let label = telemetry.label();
    label.split_once(' ').map_or(label, |(short, _)| short)
}

/// 1234567 → "1,234,567".
fn thousands(number: u64) -> String {
    let digits = number.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{inclusive_counts, thousands};

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(456_700), "456,700");
        assert_eq!(thousands(12_345_678), "12,345,678");
    }

    #[test]
    fn inclusive_counts_are_read_from_callgrind_annotate() {
        let annotated = "\
--------------------------------------------------------------------------------
Ir                    file:function
--------------------------------------------------------------------------------
247,307,548 (100.0%)  ./misc/../sysdeps/unix/sysv/linux/x86_64/clone.S:clone [/usr/lib/x86_64-linux-gnu/libc.so.6]
 20,155,321 ( 8.15%)  ???:tracing_core::dispatcher::Dispatch::enter [/work/main/target/release/orders]
  9,051,527 ( 3.66%)  ???:<tracing::instrument::Instrumented<T> as core::future::future::Future>::poll'2 [/work/main/target/release/orders]
 24,530,289 ( 9.92%)  ./string/../sysdeps/x86_64/multiarch/memmove-vec-unaligned-erms.S:__memcpy_avx_unaligned_erms [/usr/lib/x86_64-linux-gnu/libc.so.6]
";
        assert_eq!(
            inclusive_counts(annotated),
            [
                (" clone".to_owned(), 247_307_548),
                (
                    " tracing_core::dispatcher::Dispatch::enter".to_owned(),
                    20_155_321
                ),
                (" __memcpy_avx_unaligned_erms".to_owned(), 24_530_289),
            ]
        );
    }
}
