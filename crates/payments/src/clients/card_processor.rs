use anyhow::Context;
use axum::http::StatusCode;
use platform::client::{Call, CallError};
use reqwest_middleware::ClientWithMiddleware;
use reqwest_middleware::reqwest::Response;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::{
    config::CARD_PROCESSOR_TIMEOUT,
    domain::{Charge, PaymentId},
};

const SERVICE: &str = "card processor";

/// Safe to repeat: it only reads.
const LOOKUP: Call = Call::retried(SERVICE, CARD_PROCESSOR_TIMEOUT);

/// Retried: the payment id is the charge's idempotency key, so the
/// processor answers a repeat with the first attempt's outcome.
const CHARGE: Call = Call::retried(SERVICE, CARD_PROCESSOR_TIMEOUT);

/// The external card API, called through the traced client: its CLIENT
/// span is all a trace shows of it.
#[derive(Clone)]
pub struct CardProcessor {
    http: ClientWithMiddleware,
    charges_url: Url,
}

/// What the processor decided.
#[derive(Debug)]
pub enum ProcessorAnswer {
    Approved { charge_id: String },
    Declined { decline_code: String },
}

/// No `Debug`: this holds a full card number.
#[derive(Serialize)]
struct ChargeBody<'a> {
    amount: i64,
    currency: &'a str,
    card: CardBody<'a>,
    metadata: Metadata<'a>,
}

#[derive(Serialize)]
struct CardBody<'a> {
    number: &'a str,
    exp_month: u8,
    exp_year: u16,
    cvc: &'a str,
}

#[derive(Serialize)]
struct Metadata<'a> {
    order_id: &'a str,
}

#[derive(Deserialize)]
struct Approved {
    id: String,
}

#[derive(Deserialize)]
struct Declined {
    error: DeclineDetails,
}

#[derive(Deserialize)]
struct DeclineDetails {
    decline_code: String,
}

impl CardProcessor {
    pub fn new(base_url: Url) -> Self {
        Self {
            http: telemetry::http_client::client(CARD_PROCESSOR_TIMEOUT),
            charges_url: base_url.join("v1/charges").unwrap_or(base_url),
        }
    }

    /// Asks the processor to charge the card. The payment id is the
    /// idempotency key, so a retry of this call never charges twice.
    pub async fn charge(
        &self,
        payment_id: &PaymentId,
        charge: &Charge,
    ) -> Result<ProcessorAnswer, CallError> {
        let body = ChargeBody {
            amount: charge.amount_cents,
            currency: &charge.currency,
            card: CardBody {
                number: charge.card.number(),
                exp_month: charge.card.exp_month(),
                exp_year: charge.card.exp_year(),
                cvc: charge.card.cvc(),
            },
            metadata: Metadata {
                order_id: &charge.order_id,
            },
        };
        let request = self
            .http
            .post(self.charges_url.clone())
            .header("Idempotency-Key", payment_id.as_str())
            .json(&body);
        let response = CHARGE.send(request).await?;
        read_answer(response).await
    }

    /// Asks what became of the charge sent with `payment_id` as its
    /// idempotency key: its answer, or `None` if it never arrived.
    pub async fn lookup(&self, payment_id: &str) -> Result<Option<ProcessorAnswer>, CallError> {
        let mut url = self.charges_url.clone();
        url.path_segments_mut()
            .map_err(|()| CallError::Unexpected {
                service: SERVICE,
                source: anyhow::anyhow!("CARD_PROCESSOR_URL cannot be a base"),
            })?
            .extend(["by-idempotency-key", payment_id]);
        let response = LOOKUP.send(self.http.get(url)).await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        read_answer(response).await.map(Some)
    }
}

/// An approval (200 or 201) or a decline (402); anything else is not an
/// answer about the card.
async fn read_answer(response: Response) -> Result<ProcessorAnswer, CallError> {
    let unexpected = |source: anyhow::Error| CallError::Unexpected {
        service: SERVICE,
        source,
    };
    match response.status().as_u16() {
        200 | 201 => {
            let approved: Approved = response
                .json()
                .await
                .context("reading an approval")
                .map_err(unexpected)?;
            Ok(ProcessorAnswer::Approved {
                charge_id: approved.id,
            })
        }
        402 => {
            let declined: Declined = response
                .json()
                .await
                .context("reading a decline")
                .map_err(unexpected)?;
            Ok(ProcessorAnswer::Declined {
                decline_code: declined.error.decline_code,
            })
        }
        status => Err(unexpected(anyhow::anyhow!(
            "the processor answered {status}"
        ))),
    }
}
