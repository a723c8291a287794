//! Waiting longer after each failure, up to a cap: for loops that keep
//! trying for as long as the service runs (the outbox relay, the events
//! consumer), so a broker that is away is asked less and less often.

use std::time::Duration;

/// Doubling waits from `first` to `last`.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    last: Duration,
    next: Duration,
}

impl Backoff {
    pub const fn new(first: Duration, last: Duration) -> Self {
        Self {
            first,
            last,
            next: first,
        }
    }

    /// How long the next [`wait`](Self::wait) waits.
    pub fn next_delay(&self) -> Duration {
        self.next
    }

    /// After a success: the next failure waits `first` again.
    pub fn reset(&mut self) {
        self.next = self.first;
    }

    /// Waits, and doubles the next wait (up to `last`).
    pub async fn wait(&mut self) {
        tokio::time::sleep(self.next).await;
        self.next = (self.next * 2).min(self.last);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Backoff;

    #[tokio::test(start_paused = true)]
    async fn doubles_up_to_the_cap_and_starts_over_after_a_reset() {
        let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(2));
        let mut delays = Vec::new();
        for _ in 0..4 {
            delays.push(backoff.next_delay());
            backoff.wait().await;
        }
        assert_eq!(delays, [500, 1000, 2000, 2000].map(Duration::from_millis));
        backoff.reset();
        assert_eq!(backoff.next_delay(), Duration::from_millis(500));
    }
}
