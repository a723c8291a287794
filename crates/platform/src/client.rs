//! Calling another service of the suite: one outcome type for every call,
//! so each caller maps "down", "too slow" and "said no" in one `match`.

use reqwest_middleware::RequestBuilder;
use serde::de::DeserializeOwned;

use crate::Problem;

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
    /// Classifies a request that produced no response.
    pub fn from_send(service: &'static str, error: reqwest_middleware::Error) -> Self {
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

/// Sends `request` to `service` and reads a JSON body of type `T` from a
/// 2xx answer, or the problem from any other.
pub async fn call<T: DeserializeOwned>(
    service: &'static str,
    request: RequestBuilder,
) -> Result<T, CallError> {
    let unexpected = |source: anyhow::Error| CallError::Unexpected { service, source };
    let response = request
        .send()
        .await
        .map_err(|error| CallError::from_send(service, error))?;
    let status = response.status();
    if status.is_success() {
        return response.json::<T>().await.map_err(|error| {
            if error.is_timeout() {
                CallError::Timeout { service }
            } else {
                unexpected(error.into())
            }
        });
    }
    let body = response
        .bytes()
        .await
        .map_err(|error| unexpected(error.into()))?;
    let problem = serde_json::from_slice::<Problem>(&body).unwrap_or_else(|_| {
        Problem::new(
            status,
            "upstream-error",
            "Upstream error",
            format!("{service} answered {status} without a problem body"),
        )
    });
    Err(CallError::Problem {
        service,
        problem: Box::new(problem),
    })
}
