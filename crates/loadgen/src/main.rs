//! `loadgen`: synthetic checkout traffic against the gateway, with a live
//! progress line and a summary at the end (also after Ctrl-C or SIGTERM).
//!
//! ```text
//! cargo run -p loadgen -- --workers 8 --duration 20s   # closed loop
//! cargo run -p loadgen -- --rate 50 --duration 20s     # open loop
//! cargo run -p loadgen -- --rate 2 --forever --quiet   # what the compose stack runs
//! ```

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use loadgen::{Limit, Load, Mix, Summary, Weights};
use tokio::time::Instant;
use url::Url;

/// How often `--quiet` writes a progress line: a log a person can scan.
const QUIET_PROGRESS_EVERY: Duration = Duration::from_mins(1);

/// Sends synthetic checkouts to the gateway and sums up what they got.
///
/// A seeded mix: mostly approved, some declined, sold out, invalid, for
/// unknown customers, and retries with an earlier Idempotency-Key. Every
/// request is marked as synthetic by its User-Agent (loadgen/<version>) and
/// the baggage entry `synthetic_request=true`. At the end, and on Ctrl-C or SIGTERM,
/// it prints requests, rate, latency percentiles and answers by status.
#[derive(Debug, Parser)]
#[command(name = "loadgen", version)]
struct Cli {
    /// Base URL of the gateway.
    #[arg(long, default_value = "http://localhost:8080")]
    gateway: Url,
    /// Closed loop: this many callers, each sending its next checkout as
    /// soon as its last is answered [default: 8, when --rate is not given].
    #[arg(long, conflicts_with = "rate", value_parser = clap::value_parser!(u16).range(1..))]
    workers: Option<u16>,
    /// Open loop: this many checkouts a second, on schedule whatever the
    /// answers; latency counts from each one's scheduled time.
    #[arg(long, value_parser = parse_rate)]
    rate: Option<f64>,
    /// Stop sending after this long: 500ms, 30s, 5m, 1h [default: 30s,
    /// when neither --count nor --forever is given].
    #[arg(long, value_parser = parse_duration, conflicts_with_all = ["count", "forever"])]
    duration: Option<Duration>,
    /// Stop after this many checkouts.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..), conflicts_with = "forever")]
    count: Option<u64>,
    /// Run until Ctrl-C or SIGTERM.
    #[arg(long)]
    forever: bool,
    /// Seed of the mix: the same seed sends the same checkouts in the same
    /// order [default: random, and printed].
    #[arg(long)]
    seed: Option<u64>,
    /// No live progress line: a plain one a minute on stderr instead, for
    /// logs.
    #[arg(long)]
    quiet: bool,
}

impl Cli {
    fn load(&self) -> Load {
        match (self.rate, self.workers) {
            (Some(rate), _) => Load::open(rate),
            (None, workers) => Load::Closed {
                workers: usize::from(workers.unwrap_or(8)),
            },
        }
    }

    fn limit(&self) -> Limit {
        match (self.forever, self.count, self.duration) {
            (true, _, _) => Limit::UntilStopped,
            (false, Some(count), _) => Limit::Count(count),
            (false, None, duration) => Limit::Duration(duration.unwrap_or(Duration::from_secs(30))),
        }
    }
}

/// A positive number of checkouts a second: `50`, `0.5`.
fn parse_rate(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err("expected a positive number of checkouts a second, as 50 or 0.5".to_owned()),
    }
}

/// A whole number and a unit: `500ms`, `30s`, `5m`, `1h`.
fn parse_duration(value: &str) -> Result<Duration, String> {
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("expected a number and a unit, as 30s, not {value:?}"))?;
    let seconds = match unit {
        "ms" => return Ok(Duration::from_millis(number)),
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return Err(format!("unit {unit:?}: expected ms, s, m or h")),
    };
    Ok(Duration::from_secs(number.saturating_mul(seconds)))
}

/// Where progress goes: a live line on a terminal, or a line a minute.
enum Progress {
    Live(ProgressBar),
    Logged { next: Instant },
}

impl Progress {
    fn new(quiet: bool) -> Self {
        if quiet {
            return Self::Logged {
                next: Instant::now() + QUIET_PROGRESS_EVERY,
            };
        }
        // Hidden by indicatif itself when stderr is not a terminal.
        let bar = ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        Self::Live(bar)
    }

    fn show(&mut self, so_far: &Summary) {
        match self {
            Self::Live(bar) => bar.set_message(so_far.line()),
            Self::Logged { next } if Instant::now() >= *next => {
                eprintln!("loadgen: {}", so_far.line());
                *next += QUIET_PROGRESS_EVERY;
            }
            Self::Logged { .. } => {}
        }
    }

    fn finish(self) {
        if let Self::Live(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// Completes on Ctrl-C or SIGTERM (`docker compose stop`), as
/// `platform::shutdown_signal` does for the services.
async fn stop_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let client = match loadgen::http_client() {
        Ok(client) => client,
        Err(error) => {
            eprintln!("loadgen: no HTTP client: {error}");
            return ExitCode::FAILURE;
        }
    };
    let seed = cli.seed.unwrap_or_else(rand::random);
    let mut mix = Mix::new(Weights::default(), seed);
    let (load, limit) = (cli.load(), cli.limit());
    eprintln!(
        "loadgen: {load}, {} against {}; seed {seed}, keys loadgen-{}-<n>",
        describe(limit),
        cli.gateway,
        mix.run_id()
    );
    let mut progress = Progress::new(cli.quiet);
    let summary = loadgen::run(
        &client,
        &cli.gateway,
        load,
        limit,
        &mut mix,
        |so_far| progress.show(so_far),
        stop_signal(),
    )
    .await;
    progress.finish();
    println!("{summary}");
    // 4xx and 5xx answers are answers (the mix asks for most of them); only
    // a gateway that never answered fails the run.
    if summary.answered() == 0 {
        eprintln!("loadgen: no answer from {}", cli.gateway);
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn describe(limit: Limit) -> String {
    match limit {
        Limit::Duration(duration) => format!("for {duration:?}"),
        Limit::Count(count) => format!("{count} checkouts"),
        Limit::UntilStopped => "until stopped".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from([&["loadgen"], args].concat())
    }

    #[test]
    fn defaults_to_eight_workers_for_thirty_seconds_against_localhost() {
        let cli = cli(&[]).unwrap();
        assert_eq!(cli.load(), Load::Closed { workers: 8 });
        assert_eq!(cli.limit(), Limit::Duration(Duration::from_secs(30)));
        assert_eq!(cli.gateway.as_str(), "http://localhost:8080/");
    }

    #[test]
    fn a_rate_makes_an_open_loop() {
        let cli = cli(&["--rate", "2", "--forever", "--quiet"]).unwrap();
        assert_eq!(cli.load(), Load::open(2.0));
        assert_eq!(cli.limit(), Limit::UntilStopped);
    }

    #[test]
    fn one_mode_and_one_limit_at_a_time() {
        for args in [
            &["--workers", "2", "--rate", "5"][..],
            &["--count", "5", "--duration", "5s"],
            &["--count", "5", "--forever"],
            &["--duration", "5s", "--forever"],
            &["--workers", "0"],
            &["--count", "0"],
            &["--rate", "0"],
            &["--rate", "-1"],
            &["--rate", "inf"],
        ] {
            assert!(cli(args).is_err(), "{args:?}");
        }
    }

    #[test]
    fn durations_take_a_unit() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_mins(5)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_hours(1)));
        for bad in ["30", "s", "1.5s", "3 s", "2d", ""] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
