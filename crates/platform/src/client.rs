//! Calling another service: within the request's deadline, retried only
//! when that is safe, with one outcome type for every call, so each caller
//! maps "down", "too slow" and "said no" in one `match`.

use std::time::Duration;

use reqwest::Response;
use reqwest_middleware::RequestBuilder;
use serde::de::DeserializeOwned;
use telemetry::http_client::ResendCount;

use crate::{Problem, deadline};

/// Why a call to another service did not give the expected body.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// No connection could be made: the service is down or unreachable.
    #[error("{service} is unavailable")]
    Unavailable { service: &'static str },
    /// The request was sent, and no answer came before the timeout. The
    /// callee may or may not have acted on it.
    #[error("{service} did not answer in time")]
    Timeout { service: &'static str },
    /// The service answered with a problem (4xx or 5xx).
    #[error("{service} answered {}: {}", .problem.status, .problem.detail)]
    Problem {
        service: &'static str,
        problem: Box<Problem>,
    },
    /// Anything else: a broken body, a protocol error.
    #[error("calling {service} failed")]
    Unexpected {
        service: &'static str,
        #[source]
        source: anyhow::Error,
    },
}

impl CallError {
    /// Whether the callee was too slow: no answer in time, or its own 504
    /// (a deadline passed further down).
    pub fn is_timeout(&self) -> bool {
        match self {
            Self::Timeout { .. } => true,
            Self::Problem { problem, .. } => problem.status == 504,
            Self::Unavailable { .. } | Self::Unexpected { .. } => false,
        }
    }

    /// Classifies a request that produced no response.
    fn from_send(service: &'static str, error: reqwest_middleware::Error) -> Self {
        match &error {
            reqwest_middleware::Error::Reqwest(inner) if inner.is_timeout() => {
                Self::Timeout { service }
            }
            reqwest_middleware::Error::Reqwest(inner) if inner.is_connect() => {
                Self::Unavailable { service }
            }
            _ => Self::Unexpected {
                service,
                source: error.into(),
            },
        }
    }
}

/// How one kind of call to one service is made: its timeout, and whether
/// it may be repeated.
///
/// ```ignore
/// const FIND_USER: Call = Call::retried("users", Duration::from_secs(3));
/// let user: User = FIND_USER.json(http.get(url)).await?;
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Call {
    service: &'static str,
    timeout: Duration,
    retried: bool,
}

/// Attempts of a retried call, the first included.
const MAX_ATTEMPTS: u32 = 3;
/// The pause before the first retry, doubled before each next one...
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
/// ...up to this.
const MAX_BACKOFF: Duration = Duration::from_millis(800);

impl Call {
    /// A call made once: its effect must not happen twice (a POST without
    /// an idempotency key).
    pub const fn once(service: &'static str, timeout: Duration) -> Self {
        Self {
            service,
            timeout,
            retried: false,
        }
    }

    /// A call that is safe to repeat (a GET, or a POST whose idempotency
    /// key makes a repeat a no-op): retried when the service could not be
    /// reached or answered 502, 503 or 504, while the deadline allows.
    pub const fn retried(service: &'static str, timeout: Duration) -> Self {
        Self {
            service,
            timeout,
            retried: true,
        }
    }

    /// Sends `request` and reads a JSON body of type `T` from a 2xx
    /// answer, or the problem from any other.
    pub async fn json<T: DeserializeOwned>(&self, request: RequestBuilder) -> Result<T, CallError> {
        let service = self.service;
        let response = self.send(request).await?;
        let status = response.status();
        if status.is_success() {
            return response.json::<T>().await.map_err(|error| {
                if error.is_timeout() {
                    CallError::Timeout { service }
                } else {
                    CallError::Unexpected {
                        service,
                        source: error.into(),
                    }
                }
            });
        }
        Err(self.problem(response).await)
    }

    /// Sends `request`, each attempt bounded by what is left of the
    /// request's deadline, and returns the response of the last attempt
    /// whatever its status. Each attempt is its own CLIENT span, and
    /// repeats carry `http.request.resend_count`.
    pub async fn send(&self, request: RequestBuilder) -> Result<Response, CallError> {
        let service = self.service;
        let mut resend_count = 0;
        loop {
            let budget = deadline::budget(self.timeout);
            if budget.is_zero() {
                return Err(CallError::Timeout { service });
            }
            let attempt = request.try_clone().ok_or_else(|| CallError::Unexpected {
                service,
                source: anyhow::anyhow!("a request with a streamed body cannot be sent"),
            })?;
            let outcome = attempt
                .timeout(budget)
                .header(deadline::HEADER, deadline::header_value(budget))
                .with_extension(ResendCount(resend_count))
                .send()
                .await;
            // Not after a timeout: that attempt had the whole budget.
            let worth_repeating = match &outcome {
                Ok(response) => matches!(response.status().as_u16(), 502..=504),
                Err(reqwest_middleware::Error::Reqwest(error)) => error.is_connect(),
                Err(reqwest_middleware::Error::Middleware(_)) => false,
            };
            let pause = backoff(resend_count);
            if !self.retried
                || !worth_repeating
                || resend_count + 1 >= MAX_ATTEMPTS
                || pause >= deadline::budget(self.timeout)
            {
                return outcome.map_err(|error| CallError::from_send(service, error));
            }
            tracing::debug!(
                service.peer.name = service,
                http.request.resend_count = resend_count,
                ?pause,
                "retrying a call"
            );
            tokio::time::sleep(pause).await;
            resend_count += 1;
        }
    }

    /// The problem a non-2xx answer carries, as the callee wrote it (a 504
    /// included: it may say more than "too slow", such as which order).
    async fn problem(&self, response: Response) -> CallError {
        let service = self.service;
        let status = response.status();
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(error) => {
                return CallError::Unexpected {
                    service,
                    source: error.into(),
                };
            }
        };
        let problem = serde_json::from_slice::<Problem>(&body).unwrap_or_else(|_| {
            Problem::new(
                status,
                "upstream-error",
                "Upstream error",
                format!("{service} answered {status} without a problem body"),
            )
        });
        CallError::Problem {
            service,
            problem: Box::new(problem),
        }
    }
}

/// Capped exponential backoff with full jitter: a random pause up to
/// `FIRST_BACKOFF * 2^resend_count`, so callers that failed together do not
/// come back together.
fn backoff(resend_count: u32) -> Duration {
    let ceiling = FIRST_BACKOFF
        .saturating_mul(1 << resend_count.min(16))
        .min(MAX_BACKOFF);
    ceiling.mul_f64(rand::random::<f64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        for _ in 0..100 {
            assert!(backoff(0) <= FIRST_BACKOFF);
            assert!(backoff(2) <= FIRST_BACKOFF * 4);
            assert!(backoff(30) <= MAX_BACKOFF);
        }
        let pauses: std::collections::HashSet<_> = (0..20).map(|_| backoff(3)).collect();
        assert!(pauses.len() > 1, "jittered");
    }
}
