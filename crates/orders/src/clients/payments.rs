use platform::client::{Call, CallError};
use reqwest_middleware::ClientWithMiddleware;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::{config::PAYMENTS_TIMEOUT, domain::OrderId};

/// The card as the customer gave it, passed through to `payments`
/// untouched: orders never looks at it, stores it or logs it. No `Debug`.
#[derive(Deserialize, Serialize)]
pub struct CardDetails {
    number: String,
    exp_month: u8,
    exp_year: u16,
    cvc: String,
}

impl CardDetails {
    /// What identifies the card in a request's fingerprint: never the
    /// full number (a hash of one is still card data), but enough to tell
    /// one card of a customer from another.
    pub fn fingerprint(&self) -> String {
        let last4 = self
            .number
            .get(self.number.len().saturating_sub(4)..)
            .unwrap_or_default();
        format!("{last4}/{}/{}", self.exp_month, self.exp_year)
    }
}

#[derive(Debug, Deserialize)]
pub struct PaymentCreated {
    pub payment_id: String,
}

/// What payments knows of an order's payment.
#[derive(Debug, Deserialize)]
pub struct Settlement {
    /// `approved`, `declined`, `not_charged` or `unknown`.
    pub status: String,
    pub payment_id: Option<String>,
}

#[derive(Serialize)]
struct SettlementRequest<'a> {
    order_id: &'a str,
}

#[derive(Serialize)]
struct PaymentRequest<'a> {
    order_id: &'a str,
    amount_cents: i64,
    currency: &'a str,
    card: &'a CardDetails,
}

/// Made once: a charge request carries no idempotency key of its own, so a
/// repeat could charge the card twice.
const CHARGE: Call = Call::once("payments", PAYMENTS_TIMEOUT);

/// Asking again changes nothing: safe to repeat.
const SETTLE: Call = Call::retried("payments", PAYMENTS_TIMEOUT);

/// The payments service.
#[derive(Clone)]
pub struct Payments {
    http: ClientWithMiddleware,
    base_url: Url,
    create_url: Url,
    settle_url: Url,
}

impl Payments {
    pub fn new(base_url: Url) -> Self {
        Self {
            http: telemetry::http_client::client(PAYMENTS_TIMEOUT),
            create_url: base_url
                .join("payments")
                .unwrap_or_else(|_| base_url.clone()),
            settle_url: base_url
                .join("settlements")
                .unwrap_or_else(|_| base_url.clone()),
            base_url,
        }
    }

    /// Whether payments answers its liveness probe, for `/readyz`.
    pub async fn is_alive(&self) -> bool {
        platform::health::is_alive(&self.base_url).await
    }

    pub async fn charge(
        &self,
        order_id: &OrderId,
        amount_cents: i64,
        currency: &str,
        card: &CardDetails,
    ) -> Result<PaymentCreated, CallError> {
        let request = PaymentRequest {
            order_id: order_id.as_str(),
            amount_cents,
            currency,
            card,
        };
        CHARGE
            .json(self.http.post(self.create_url.clone()).json(&request))
            .await
    }

    /// What became of the payment of `order_id`, whose answer was lost.
    pub async fn settle(&self, order_id: &OrderId) -> Result<Settlement, CallError> {
        let request = SettlementRequest {
            order_id: order_id.as_str(),
        };
        SETTLE
            .json(self.http.post(self.settle_url.clone()).json(&request))
            .await
    }
}
