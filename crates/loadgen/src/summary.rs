//! What a run measured: answers by status, and latency from an HDR
//! histogram (exact enough at every percentile, in constant memory however
//! long the run).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::run::Load;

/// Latencies are kept in microseconds, up to an hour (longer ones count as
/// an hour), to three significant digits: about 180 KiB.
const LATENCY_MAX_MICROS: u64 = 3_600_000_000;
const SIGNIFICANT_DIGITS: u8 = 3;

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// The gateway answered with this status.
    Status(u16),
    /// No HTTP answer: connection refused or reset, or the client's timeout.
    NoAnswer,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status(status) => {
                let reason = reqwest::StatusCode::from_u16(*status)
                    .ok()
                    .and_then(|code| code.canonical_reason());
                match reason {
                    Some(reason) => write!(f, "{status} {reason}"),
                    None => write!(f, "{status}"),
                }
            }
            Self::NoAnswer => f.write_str("no answer"),
        }
    }
}

/// The requests of a run so far, or of the whole run once it is over.
#[derive(Debug, Clone)]
pub struct Summary {
    load: Load,
    elapsed: Duration,
    latency_micros: Histogram<u64>,
    outcomes: BTreeMap<Outcome, u64>,
    held_back: u64,
    abandoned: u64,
    stopped: bool,
}

impl Summary {
    #[expect(
        clippy::expect_used,
        reason = "constant bounds hdrhistogram accepts, as every test shows"
    )]
    pub(crate) fn new(load: Load) -> Self {
        Self {
            load,
            elapsed: Duration::ZERO,
            latency_micros: Histogram::new_with_bounds(1, LATENCY_MAX_MICROS, SIGNIFICANT_DIGITS)
                .expect("constant, valid bounds"),
            outcomes: BTreeMap::new(),
            held_back: 0,
            abandoned: 0,
            stopped: false,
        }
    }

    pub(crate) fn record(&mut self, outcome: Outcome, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latency_micros.saturating_record(micros.max(1));
        *self.outcomes.entry(outcome).or_default() += 1;
    }

    pub(crate) fn set_elapsed(&mut self, elapsed: Duration) {
        self.elapsed = elapsed;
    }

    pub(crate) fn note_held_back(&mut self) {
        self.held_back += 1;
    }

    pub(crate) fn note_stopped(&mut self, abandoned: usize) {
        self.stopped = true;
        self.abandoned = abandoned as u64;
    }

    pub fn load(&self) -> Load {
        self.load
    }

    /// Requests that ended, answered or not.
    pub fn requests(&self) -> u64 {
        self.latency_micros.len()
    }

    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// Requests that ended, per second of the run.
    pub fn rate(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            #[expect(clippy::cast_precision_loss, reason = "exact below 2^53 requests")]
            let requests = self.requests() as f64;
            requests / seconds
        } else {
            0.0
        }
    }

    /// The latency `quantile` (0.99 for p99) of the requests so far
    /// falls below: the upper end of its histogram bucket, within 0.1 %.
    pub fn latency(&self, quantile: f64) -> Duration {
        Duration::from_micros(self.latency_micros.value_at_quantile(quantile))
    }

    pub fn max(&self) -> Duration {
        Duration::from_micros(self.latency_micros.max())
    }

    pub fn count(&self, outcome: Outcome) -> u64 {
        self.outcomes.get(&outcome).copied().unwrap_or_default()
    }

    /// Each outcome seen, with its count, statuses in order, then no answer.
    pub fn outcomes(&self) -> impl Iterator<Item = (Outcome, u64)> + '_ {
        self.outcomes
            .iter()
            .map(|(outcome, count)| (*outcome, *count))
    }

    /// Requests that got an HTTP answer, of any status.
    pub fn answered(&self) -> u64 {
        self.requests() - self.count(Outcome::NoAnswer)
    }

    /// The suite failing rather than refusing: no answer, or a 5xx. The 4xx
    /// answers are what the mix asks for.
    pub fn errors(&self) -> u64 {
        self.outcomes()
            .filter(|(outcome, _)| match outcome {
                Outcome::Status(status) => *status >= 500,
                Outcome::NoAnswer => true,
            })
            .map(|(_, count)| count)
            .sum()
    }

    /// Open loop: requests that were due while `max_in_flight` were still
    /// unanswered, and so went out late (their latency still counts from
    /// when they were due).
    pub fn held_back(&self) -> u64 {
        self.held_back
    }

    /// Requests still in flight when the run was stopped, and so not
    /// counted anywhere else.
    pub fn abandoned(&self) -> u64 {
        self.abandoned
    }

    /// Whether the run was stopped before its limit.
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// One line for a progress display:
    /// `1843 requests, 92.1/s, 0 errors, p99 210.4 ms`.
    pub fn line(&self) -> String {
        format!(
            "{} requests, {:.1}/s, {} errors, p99 {:.1} ms",
            self.requests(),
            self.rate(),
            self.errors(),
            millis(self.latency(0.99)),
        )
    }

    /// The table's rows: label, number, unit.
    fn rows(&self) -> Vec<(String, String, &'static str)> {
        let mut rows = vec![
            ("requests".to_owned(), self.requests().to_string(), ""),
            (
                "elapsed".to_owned(),
                format!("{:.2}", self.elapsed.as_secs_f64()),
                "s",
            ),
            ("rate".to_owned(), format!("{:.1}", self.rate()), "/s"),
        ];
        for (label, latency) in [
            ("latency p50", self.latency(0.50)),
            ("latency p90", self.latency(0.90)),
            ("latency p99", self.latency(0.99)),
            ("latency max", self.max()),
        ] {
            rows.push((label.to_owned(), format!("{:.1}", millis(latency)), "ms"));
        }
        for (outcome, count) in self.outcomes() {
            rows.push((outcome.to_string(), count.to_string(), ""));
        }
        if self.count(Outcome::NoAnswer) == 0 {
            rows.push((Outcome::NoAnswer.to_string(), "0".to_owned(), ""));
        }
        if self.held_back > 0 {
            rows.push((
                "held back by the in-flight cap".to_owned(),
                self.held_back.to_string(),
                "",
            ));
        }
        if self.stopped {
            rows.push((
                "abandoned in flight at stop".to_owned(),
                self.abandoned.to_string(),
                "",
            ));
        }
        rows
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// A header naming the load, then one row a measure: labels left, numbers
/// right-aligned, units after them.
impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let since = match self.load {
            Load::Closed { .. } => "sent",
            Load::Open { .. } => "due",
        };
        write!(
            f,
            "{}; latency from when each request was {since}",
            self.load
        )?;
        if self.stopped {
            f.write_str("; stopped early")?;
        }
        let rows = self.rows();
        let label = rows.iter().map(|row| row.0.len()).max().unwrap_or(0);
        let number = rows.iter().map(|row| row.1.len()).max().unwrap_or(0);
        for (name, value, unit) in rows {
            let line = format!("{name:label$}  {value:>number$} {unit}");
            write!(f, "\n{}", line.trim_end())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(load: Load, latencies_ms: &[(Outcome, u64)]) -> Summary {
        let mut summary = Summary::new(load);
        for (outcome, millis) in latencies_ms {
            summary.record(*outcome, Duration::from_millis(*millis));
        }
        summary.set_elapsed(Duration::from_secs(2));
        summary
    }

    #[test]
    fn renders_an_aligned_table_with_every_status() {
        let mut answers = vec![(Outcome::Status(201), 10); 96];
        answers.extend([
            (Outcome::Status(402), 20),
            (Outcome::Status(422), 2),
            (Outcome::Status(404), 3),
            (Outcome::Status(201), 250),
        ]);
        let summary = summary(Load::Closed { workers: 8 }, &answers);
        assert_eq!(
            summary.to_string(),
            "\
closed loop, 8 workers; latency from when each request was sent
requests                    100
elapsed                    2.00 s
rate                       50.0 /s
latency p50                10.0 ms
latency p90                10.0 ms
latency p99                20.0 ms
latency max               250.1 ms
201 Created                  97
402 Payment Required          1
404 Not Found                 1
422 Unprocessable Entity      1
no answer                     0"
        );
    }

    #[test]
    fn errors_are_no_answers_and_5xx_not_the_4xx_the_mix_asks_for() {
        let summary = summary(
            Load::open(10.0),
            &[
                (Outcome::Status(201), 1),
                (Outcome::Status(409), 1),
                (Outcome::Status(503), 1),
                (Outcome::Status(504), 1),
                (Outcome::NoAnswer, 1),
            ],
        );
        assert_eq!(summary.errors(), 3);
        assert_eq!(summary.answered(), 4);
        assert_eq!(summary.line(), "5 requests, 2.5/s, 3 errors, p99 1.0 ms");
    }

    #[test]
    fn says_what_a_stop_and_the_cap_left_out() {
        let mut summary = summary(Load::open(50.0), &[(Outcome::NoAnswer, 5)]);
        summary.note_held_back();
        summary.note_stopped(3);
        let table = summary.to_string();
        assert!(
            table.starts_with(
                "open loop, 50/s; latency from when each request was due; stopped early\n"
            ),
            "{table}"
        );
        assert!(
            table.contains("\nno answer                          1\n"),
            "{table}"
        );
        assert!(
            table.contains("\nheld back by the in-flight cap     1\n"),
            "{table}"
        );
        assert!(
            table.ends_with("\nabandoned in flight at stop        3"),
            "{table}"
        );
    }

    #[test]
    fn an_empty_run_has_no_rate_and_zero_latencies() {
        let summary = Summary::new(Load::Closed { workers: 1 });
        assert_eq!((summary.requests(), summary.rate()), (0, 0.0));
        assert_eq!(summary.latency(0.99), Duration::ZERO);
    }
}
