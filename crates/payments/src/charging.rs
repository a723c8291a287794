//! Charging a card: the business operation, inside its span.

use anyhow::Context;
use tracing::{Instrument, field::Empty};

use crate::{
    AppState,
    clients::ProcessorAnswer,
    db::{self, payments::Outcome},
    domain::{Charge, PaymentId},
    error::ApiError,
};

/// What a charge ended as.
pub enum ChargeOutcome {
    Approved {
        payment_id: PaymentId,
    },
    Declined {
        payment_id: PaymentId,
        decline_code: String,
    },
}

/// Charges the card and records the attempt, inside the business span
/// `payments.charge_card`.
pub async fn charge_card(state: &AppState, charge: &Charge) -> Result<ChargeOutcome, ApiError> {
    let payment_id = PaymentId::generate();
    let span = tracing::info_span!(
        "payments.charge_card",
        otel.kind = "internal",
        payment.id = payment_id.as_str(),
        order.id = charge.order_id.as_str(),
        payment.amount_cents = charge.amount_cents,
        payment.currency = charge.currency.as_str(),
        payment.card.last4 = charge.card.last4(),
        payment.outcome = Empty,
    );
    async {
        let answer = state.card_processor.charge(&payment_id, charge).await;
        let span = tracing::Span::current();
        match answer {
            Ok(ProcessorAnswer::Approved { charge_id }) => {
                span.record("payment.outcome", "approved");
                tracing::info!("payment.approved");
                let outcome = Outcome::Approved {
                    processor_charge_id: &charge_id,
                };
                db::payments::insert(&state.db, &payment_id, charge, &outcome)
                    .await
                    .context("recording an approved payment")?;
                Ok(ChargeOutcome::Approved { payment_id })
            }
            Ok(ProcessorAnswer::Declined { decline_code }) => {
                span.record("payment.outcome", "declined");
                telemetry::record_exception(
                    &span,
                    "CardDeclined",
                    &format!("card declined: {decline_code}"),
                );
                tracing::info!(decline_code = decline_code.as_str(), "payment.declined");
                let outcome = Outcome::Declined {
                    decline_code: &decline_code,
                };
                db::payments::insert(&state.db, &payment_id, charge, &outcome)
                    .await
                    .context("recording a declined payment")?;
                Ok(ChargeOutcome::Declined {
                    payment_id,
                    decline_code,
                })
            }
            Err(error) => {
                span.record("payment.outcome", "error");
                telemetry::record_exception(&span, "CardProcessorError", &error.to_string());
                Err(ApiError::CardProcessor(error))
            }
        }
    }
    .instrument(span)
    .await
}
