//! Sending the mix to the gateway, in a closed or an open loop, until a
//! limit or a stop, and recording every answer.

use std::fmt;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, USER_AGENT as USER_AGENT_HEADER};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until};
use url::Url;

use crate::mix::{Checkout, Mix};
use crate::summary::{Outcome, Summary};

/// Sent on every request, so that traces of synthetic traffic can be told
/// from real ones (the gateway records it as `user_agent.original`).
pub const USER_AGENT: &str = concat!("loadgen/", env!("CARGO_PKG_VERSION"));
/// The W3C baggage every request carries; each service passes it on and
/// marks its server span `app.synthetic_request = true`. The key is the
/// one the OpenTelemetry demo's load generator uses.
pub const BAGGAGE: &str = "synthetic_request=true";

/// A request that has had no answer by then ends as [`Outcome::NoAnswer`]:
/// the gateway gives up on a checkout after 10 s, so only a hung one gets
/// here.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How often `run` reports progress: a live line a person can follow.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);
/// An open loop's default bound on unanswered requests: far above what a
/// healthy gateway has in flight at the rates this tool runs (50/s at 10 s
/// each is 500), low enough that a hung gateway cannot make it open
/// sockets without end.
pub const MAX_IN_FLIGHT: usize = 1024;

/// How requests are paced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Load {
    /// `workers` callers, each sending its next checkout as soon as its last
    /// is answered: a fixed pool of clients. A slower gateway gets fewer
    /// requests, and each latency is that request's own.
    Closed { workers: usize },
    /// Checkouts on a fixed schedule, whatever the answers: request `i` is
    /// due at `start + i / rate_per_second`, and its latency counts from
    /// then. A stall then shows as the queue it builds, not as one slow
    /// request (no coordinated omission). At most `max_in_flight` are
    /// unanswered at once; one due past that waits for a slot, still timed
    /// from when it was due, and is counted in [`Summary::held_back`].
    Open {
        rate_per_second: f64,
        max_in_flight: usize,
    },
}

impl Load {
    /// An open loop with the default bound on requests in flight.
    pub fn open(rate_per_second: f64) -> Self {
        Self::Open {
            rate_per_second,
            max_in_flight: MAX_IN_FLIGHT,
        }
    }
}

impl fmt::Display for Load {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed { workers: 1 } => f.write_str("closed loop, 1 worker"),
            Self::Closed { workers } => write!(f, "closed loop, {workers} workers"),
            Self::Open {
                rate_per_second, ..
            } => write!(f, "open loop, {rate_per_second}/s"),
        }
    }
}

/// When a run stops sending. Requests already sent are waited for (up to
/// the client's timeout), and counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Send for this long: an open loop sends the requests due before then.
    Duration(Duration),
    /// Send this many.
    Count(u64),
    /// Until the `stop` future given to [`run`] completes.
    UntilStopped,
}

/// The HTTP client [`run`] is meant for: a 30 s timeout, so that a hung
/// gateway's requests end as "no answer". `run` sets its own headers on
/// each request, so any other client works too.
#[expect(
    clippy::disallowed_methods,
    reason = "an outside caller: its requests carry no trace context, the gateway starts each trace"
)]
pub fn http_client() -> reqwest::Result<reqwest::Client> {
    // reqwest is built with rustls and no crypto provider of its own in
    // this workspace (the telemetry crate's `tls` feature brings ring):
    // make ring the process's default before building a client.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().timeout(REQUEST_TIMEOUT).build()
}

/// Sends checkouts from `mix` to `gateway` paced by `load` until `limit`,
/// and returns what they got. Calls `on_progress` with the summary so far
/// four times a second. When `stop` completes first, the run ends there:
/// requests in flight are dropped and counted as abandoned.
///
/// # Panics
///
/// If an open loop's rate is not a positive, finite number.
pub async fn run(
    client: &reqwest::Client,
    gateway: &Url,
    load: Load,
    limit: Limit,
    mix: &mut Mix,
    on_progress: impl FnMut(&Summary),
    stop: impl Future<Output = ()>,
) -> Summary {
    if let Load::Open {
        rate_per_second, ..
    } = load
    {
        assert!(
            rate_per_second.is_finite() && rate_per_second > 0.0,
            "an open loop needs a positive rate, not {rate_per_second}"
        );
    }
    let started = Instant::now();
    let mut runner = Runner {
        client: client.clone(),
        checkout_url: format!("{}/checkout", gateway.as_str().trim_end_matches('/')).into(),
        mix,
        started,
        in_flight: JoinSet::new(),
        summary: Summary::new(load),
        on_progress,
        next_progress: started + PROGRESS_EVERY,
        stop: pin!(stop),
    };
    let stopped = runner.send_all(load, limit).await.is_err();
    runner.finish(stopped)
}

/// The `stop` future completed.
struct Stopped;

/// One run's state: what is in flight, and what has been recorded.
struct Runner<'a, P, S> {
    client: reqwest::Client,
    checkout_url: Arc<str>,
    mix: &'a mut Mix,
    started: Instant,
    /// Each request's outcome and latency.
    in_flight: JoinSet<(Outcome, Duration)>,
    summary: Summary,
    on_progress: P,
    next_progress: Instant,
    stop: Pin<&'a mut S>,
}

impl<P: FnMut(&Summary), S: Future<Output = ()>> Runner<'_, P, S> {
    async fn send_all(&mut self, load: Load, limit: Limit) -> Result<(), Stopped> {
        match load {
            Load::Closed { workers } => self.closed(workers, limit).await?,
            Load::Open {
                rate_per_second,
                max_in_flight,
            } => self.open(rate_per_second, max_in_flight, limit).await?,
        }
        // The last answers, however late: they are part of the run.
        while self.next_answer().await? {}
        Ok(())
    }

    async fn closed(&mut self, workers: usize, limit: Limit) -> Result<(), Stopped> {
        let mut sent = 0;
        for _ in 0..workers {
            if !self.may_send(sent, limit) {
                break;
            }
            self.send_next(Instant::now());
            sent += 1;
        }
        while self.next_answer().await? {
            if self.may_send(sent, limit) {
                self.send_next(Instant::now());
                sent += 1;
            }
        }
        Ok(())
    }

    fn may_send(&self, sent: u64, limit: Limit) -> bool {
        match limit {
            Limit::Duration(duration) => self.started.elapsed() < duration,
            Limit::Count(count) => sent < count,
            Limit::UntilStopped => true,
        }
    }

    async fn open(&mut self, rate: f64, max_in_flight: usize, limit: Limit) -> Result<(), Stopped> {
        // With no slot at all, nothing would ever be sent.
        let max_in_flight = max_in_flight.max(1);
        for index in 0_u64.. {
            #[expect(clippy::cast_precision_loss, reason = "exact below 2^53 requests")]
            let offset = Duration::from_secs_f64(index as f64 / rate);
            let within_limit = match limit {
                Limit::Duration(duration) => offset < duration,
                Limit::Count(count) => index < count,
                Limit::UntilStopped => true,
            };
            if !within_limit {
                break;
            }
            let due = self.started + offset;
            self.wait_until(due).await?;
            if self.in_flight.len() >= max_in_flight {
                self.summary.note_held_back();
                while self.in_flight.len() >= max_in_flight {
                    self.next_answer().await?;
                }
            }
            self.send_next(due);
        }
        Ok(())
    }

    /// Sends the mix's next checkout; its latency counts from `since`.
    fn send_next(&mut self, since: Instant) {
        let checkout = self.mix.next_checkout();
        self.in_flight.spawn(post_checkout(
            self.client.clone(),
            Arc::clone(&self.checkout_url),
            checkout,
            since,
        ));
    }

    /// Records answers and reports progress until `due`.
    async fn wait_until(&mut self, due: Instant) -> Result<(), Stopped> {
        loop {
            tokio::select! {
                biased;
                () = &mut self.stop => return Err(Stopped),
                () = sleep_until(due) => return Ok(()),
                () = sleep_until(self.next_progress) => self.report(),
                Some(answer) = self.in_flight.join_next() => self.record(answer),
            }
        }
    }

    /// Waits for the next answer and records it; `false` when nothing is in
    /// flight.
    async fn next_answer(&mut self) -> Result<bool, Stopped> {
        loop {
            tokio::select! {
                biased;
                () = &mut self.stop => return Err(Stopped),
                () = sleep_until(self.next_progress) => self.report(),
                answer = self.in_flight.join_next() => {
                    let Some(answer) = answer else { return Ok(false) };
                    self.record(answer);
                    return Ok(true);
                }
            }
        }
    }

    fn record(&mut self, answer: Result<(Outcome, Duration), tokio::task::JoinError>) {
        match answer {
            Ok((outcome, latency)) => self.summary.record(outcome, latency),
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            // Cancelled: only a runtime shutting down does that, and then
            // nothing is left to record.
            Err(_) => {}
        }
    }

    fn report(&mut self) {
        self.summary.set_elapsed(self.started.elapsed());
        (self.on_progress)(&self.summary);
        self.next_progress = Instant::now() + PROGRESS_EVERY;
    }

    fn finish(mut self, stopped: bool) -> Summary {
        if stopped {
            self.summary.note_stopped(self.in_flight.len());
        }
        self.summary.set_elapsed(self.started.elapsed());
        self.summary
    }
}

/// One `POST /checkout`, marked as synthetic.
async fn post_checkout(
    client: reqwest::Client,
    url: Arc<str>,
    checkout: Checkout,
    since: Instant,
) -> (Outcome, Duration) {
    let request = client
        .post(&*url)
        .header(CONTENT_TYPE, "application/json")
        .header(USER_AGENT_HEADER, USER_AGENT)
        .header("baggage", BAGGAGE)
        .header("idempotency-key", checkout.idempotency_key)
        .body(checkout.body);
    let outcome = match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            // Read to the end: the answer is complete then, and the
            // connection goes back to the pool. A body cut short still
            // came with its status.
            let _ = response.bytes().await;
            Outcome::Status(status)
        }
        Err(_) => Outcome::NoAnswer,
    };
    (outcome, since.elapsed())
}
