use platform::client::{Call, CallError};
use reqwest_middleware::ClientWithMiddleware;
use serde::{Serialize, de::IgnoredAny};
use url::Url;

use super::endpoint;
use crate::config::QUICK_CALL_TIMEOUT;

#[derive(Serialize)]
struct NotificationRequest<'a> {
    order_id: &'a str,
    customer_id: &'a str,
    template: &'static str,
}

/// Safe to repeat: notifications keeps one message per order and
/// template, so a repeated request changes nothing.
const NOTIFY: Call = Call::retried("notifications", QUICK_CALL_TIMEOUT);

#[derive(Clone)]
pub struct Notifications {
    http: ClientWithMiddleware,
    base_url: Url,
}

impl Notifications {
    pub fn new(base_url: Url) -> Self {
        Self {
            http: telemetry::http_client::client(QUICK_CALL_TIMEOUT),
            base_url,
        }
    }

    /// Asks for the order confirmation message to the customer.
    pub async fn order_confirmed(
        &self,
        order_id: &str,
        customer_id: &str,
    ) -> Result<(), CallError> {
        let body = NotificationRequest {
            order_id,
            customer_id,
            template: "order_confirmed",
        };
        let request = self
            .http
            .post(endpoint(&self.base_url, "notifications"))
            .json(&body);
        NOTIFY.json::<IgnoredAny>(request).await?;
        Ok(())
    }

    pub async fn is_alive(&self) -> bool {
        platform::health::is_alive(&self.base_url).await
    }
}
