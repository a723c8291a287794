use platform::{
    IdempotencyKey,
    client::{Call, CallError},
};
use reqwest_middleware::ClientWithMiddleware;
use serde::{Deserialize, Serialize};
use url::Url;

use super::endpoint;
use crate::{
    config::{ORDER_TIMEOUT, QUICK_CALL_TIMEOUT},
    domain::Checkout,
};

/// An order as `orders` describes it, relayed to the caller as it is.
#[derive(Debug, Deserialize, Serialize)]
pub struct Order {
    pub order_id: String,
    pub customer_id: String,
    pub status: String,
    pub items: Vec<OrderItem>,
    pub total_cents: i64,
    pub currency: String,
}

#[derive(Debug, Deserialize, Serialize)]
pub struct OrderItem {
    pub sku: String,
    pub quantity: i64,
    pub unit_price_cents: i64,
}

/// No `Debug`: this holds a full card number.
#[derive(Serialize)]
struct CreateOrder<'a> {
    customer_id: &'a str,
    items: Vec<ItemBody<'a>>,
    card: CardBody<'a>,
}

#[derive(Serialize)]
struct ItemBody<'a> {
    sku: &'a str,
    quantity: i64,
}

#[derive(Serialize)]
struct CardBody<'a> {
    number: &'a str,
    exp_month: u8,
    exp_year: u16,
    cvc: &'a str,
}

/// Placing an order waits for the payment, and is made once: even with
/// the caller's Idempotency-Key, a repeat is the caller's decision.
const PLACE_ORDER: Call = Call::once("orders", ORDER_TIMEOUT);
/// Reading an order should be quick, and is safe to repeat.
const GET_ORDER: Call = Call::retried("orders", QUICK_CALL_TIMEOUT);

#[derive(Clone)]
pub struct Orders {
    http: ClientWithMiddleware,
    base_url: Url,
}

impl Orders {
    pub fn new(base_url: Url) -> Self {
        Self {
            http: telemetry::http_client::client(ORDER_TIMEOUT),
            base_url,
        }
    }

    pub async fn place(
        &self,
        checkout: &Checkout,
        key: Option<&IdempotencyKey>,
    ) -> Result<Order, CallError> {
        let body = CreateOrder {
            customer_id: &checkout.customer_id,
            items: checkout
                .items
                .iter()
                .map(|item| ItemBody {
                    sku: &item.sku,
                    quantity: item.quantity,
                })
                .collect(),
            card: CardBody {
                number: checkout.card.number(),
                exp_month: checkout.card.expiry().month,
                exp_year: checkout.card.expiry().year,
                cvc: checkout.card.cvc(),
            },
        };
        let mut request = self
            .http
            .post(endpoint(&self.base_url, "orders"))
            .json(&body);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key.as_str());
        }
        PLACE_ORDER.json(request).await
    }

    pub async fn get(&self, order_id: &str) -> Result<Order, CallError> {
        let mut url = endpoint(&self.base_url, "orders/");
        // One path segment, percent-encoded: an id cannot reach another route.
        url.path_segments_mut()
            .map_err(|()| CallError::Unexpected {
                service: "orders",
                source: anyhow::anyhow!("ORDERS_URL cannot be a base"),
            })?
            .pop_if_empty()
            .push(order_id);
        GET_ORDER.json(self.http.get(url)).await
    }

    pub async fn is_alive(&self) -> bool {
        platform::health::is_alive(&self.base_url).await
    }
}
