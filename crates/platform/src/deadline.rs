//! Deadlines: how long the caller is still waiting, carried from hop to
//! hop, so no service keeps working for a caller that has given up.
//!
//! A request's deadline is the earlier of its caller's budget (the
//! [`HEADER`] it sent, in milliseconds) and the service's own limit. The
//! handler runs under it: past it, the handler is dropped (an open
//! transaction rolls back) and the caller gets 504 problem+json. Calls to
//! other services made meanwhile get what is left, minus a margin so the
//! answer can still travel back in time, in their timeout and in the
//! header.

use std::time::Duration;

use axum::{
    extract::Request,
    http::{HeaderMap, HeaderValue, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tokio::time::Instant;

use crate::Problem;

/// The caller's remaining budget in milliseconds. Relative, not a point in
/// time, so the hosts' clocks need not agree.
pub const HEADER: &str = "request-timeout-ms";

/// Kept back from each call's budget for the callee's answer to travel
/// back and for this service to act on a timeout (mark an order, answer
/// 504) before its own caller gives up: a tenth of what is left, and at
/// least this.
const MIN_MARGIN: Duration = Duration::from_millis(50);

tokio::task_local! {
    static DEADLINE: Instant;
}

/// The time left before the current request's deadline, or `None` outside
/// a request (a background task, a test).
pub fn remaining() -> Option<Duration> {
    DEADLINE
        .try_with(|deadline| deadline.saturating_duration_since(Instant::now()))
        .ok()
}

/// The budget for one call that would otherwise wait up to `limit`: the
/// smaller of `limit` and what the request has left, less the margin.
/// Zero means there is no time left to make the call at all.
pub fn budget(limit: Duration) -> Duration {
    remaining().map_or(limit, |left| {
        limit.min(left.saturating_sub(MIN_MARGIN.max(left / 10)))
    })
}

/// Runs `future` with a deadline `budget` from now, as [`enforce`] does for
/// a request; for work that is not a request, such as a reconciler's pass.
pub async fn within<F: Future>(budget: Duration, future: F) -> Option<F::Output> {
    let deadline = Instant::now() + budget;
    tokio::time::timeout_at(deadline, DEADLINE.scope(deadline, future))
        .await
        .ok()
}

/// The header value announcing `budget` to a callee.
pub fn header_value(budget: Duration) -> HeaderValue {
    HeaderValue::from(u64::try_from(budget.as_millis()).unwrap_or(u64::MAX))
}

/// axum middleware: runs the request under the earlier of the caller's
/// deadline and `limit`, answering 504 once it passes.
pub async fn enforce(limit: Duration, request: Request, next: Next) -> Response {
    let budget = callers_budget(request.headers()).map_or(limit, |budget| budget.min(limit));
    if let Some(response) = within(budget, next.run(request)).await {
        return response;
    }
    tracing::warn!(
        budget_ms = u64::try_from(budget.as_millis()).unwrap_or(u64::MAX),
        "request deadline exceeded"
    );
    Problem::new(
        StatusCode::GATEWAY_TIMEOUT,
        "deadline-exceeded",
        "Deadline exceeded",
        format!(
            "The request did not complete within its deadline of {} ms.",
            budget.as_millis()
        ),
    )
    .into_response()
}

/// The budget the caller announced, if it is a number of milliseconds.
/// Anything else is ignored like a missing header: the service's own limit
/// still applies.
fn callers_budget(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(HEADER)?.to_str().ok()?;
    value.parse::<u64>().ok().map(Duration::from_millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_call_gets_the_time_left_less_the_margin() {
        assert_eq!(budget(Duration::from_secs(3)), Duration::from_secs(3));
        within(Duration::from_secs(1), async {
            let first = budget(Duration::from_secs(3));
            assert!(
                first <= Duration::from_millis(900) && first > Duration::from_millis(850),
                "the request's deadline less a tenth is the tighter one: {first:?}"
            );
            assert_eq!(
                budget(Duration::from_millis(200)),
                Duration::from_millis(200)
            );
            // 50 ms left: all of it is margin.
            tokio::time::sleep(Duration::from_millis(950)).await;
            assert_eq!(budget(Duration::from_secs(3)), Duration::ZERO);
        })
        .await
        .expect("finishes within its deadline");
    }

    #[tokio::test]
    async fn work_past_its_deadline_is_dropped() {
        let finished = within(Duration::from_millis(50), async {
            tokio::time::sleep(Duration::from_secs(5)).await;
        })
        .await;
        assert!(finished.is_none());
    }

    #[test]
    fn only_a_whole_number_of_milliseconds_is_a_budget() {
        let budget_of = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(HEADER, HeaderValue::from_str(value).unwrap());
            callers_budget(&headers)
        };
        assert_eq!(budget_of("1500"), Some(Duration::from_millis(1500)));
        assert_eq!(budget_of("-1"), None);
        assert_eq!(budget_of("1.5"), None);
        assert_eq!(budget_of("soon"), None);
        assert_eq!(callers_budget(&HeaderMap::new()), None);
    }
}
