use platform::client::{Call, CallError};
use reqwest_middleware::ClientWithMiddleware;
use serde::Deserialize;
use url::Url;

use crate::config::QUICK_CALL_TIMEOUT;

/// A customer as `users` describes them. No `Debug`: it holds an email.
#[derive(Deserialize)]
pub struct Customer {
    pub customer_id: String,
}

/// A lookup: safe to repeat.
const FIND_CUSTOMER: Call = Call::retried("users", QUICK_CALL_TIMEOUT);

#[derive(Clone)]
pub struct Users {
    http: ClientWithMiddleware,
    base_url: Url,
}

impl Users {
    pub fn new(base_url: Url) -> Self {
        Self {
            http: telemetry::http_client::client(QUICK_CALL_TIMEOUT),
            base_url,
        }
    }

    pub async fn find(&self, customer_id: &str) -> Result<Customer, CallError> {
        // Percent-encoded as one path segment: an id cannot reach another route.
        let mut url = self.base_url.clone();
        url.path_segments_mut()
            .map_err(|()| CallError::Unexpected {
                service: "users",
                source: anyhow::anyhow!("USERS_URL cannot be a base"),
            })?
            .pop_if_empty()
            .extend(["users", customer_id]);
        FIND_CUSTOMER.json(self.http.get(url)).await
    }

    pub async fn is_alive(&self) -> bool {
        platform::health::is_alive(&self.base_url).await
    }
}
