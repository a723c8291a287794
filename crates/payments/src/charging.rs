//! Charging a card and settling a charge whose answer was lost: the
//! business operations, each inside its span.

use anyhow::Context;
use platform::client::CallError;
use telemetry::db::Database;
use tracing::{Instrument, Span, field::Empty};

use crate::{
    AppState,
    clients::ProcessorAnswer,
    config::REQUEST_DEADLINE,
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

/// Charges the card inside the business span `payments.charge_card`.
///
/// The attempt is recorded `pending` before the processor hears of it and
/// settled after, so a charge whose answer is lost (a timeout, a crash)
/// is still on record, to be settled by [`settle_order`].
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
        // The request is dropped at its deadline: no call to the processor
        // outlives it.
        let attempt = platform::deadline::remaining().unwrap_or(REQUEST_DEADLINE);
        db::payments::insert_pending(&state.db, &payment_id, charge, attempt)
            .await
            .context("recording the payment attempt")?;
        let answer = state.card_processor.charge(&payment_id, charge).await;
        let span = Span::current();
        match answer {
            Ok(answer) => {
                record(&state.db, payment_id.as_str(), &answer).await?;
                Ok(match answer {
                    ProcessorAnswer::Approved { .. } => ChargeOutcome::Approved { payment_id },
                    ProcessorAnswer::Declined { decline_code } => ChargeOutcome::Declined {
                        payment_id,
                        decline_code,
                    },
                })
            }
            // Never sent: nothing was charged.
            Err(error @ CallError::Unavailable { .. }) => {
                span.record("payment.outcome", "failed");
                telemetry::record_exception(&span, "CardProcessorUnavailable", &error.to_string());
                db::payments::settle(&state.db, payment_id.as_str(), &Outcome::Failed)
                    .await
                    .context("recording a failed payment")?;
                Err(ApiError::CardProcessor(error))
            }
            // Sent, and no usable answer: the card may have been charged.
            // The payment stays pending until settled.
            Err(error) => {
                span.record("payment.outcome", "unknown");
                telemetry::record_exception(&span, "CardProcessorError", &error.to_string());
                Err(ApiError::CardProcessor(error))
            }
        }
    }
    .instrument(span)
    .await
}

/// Stores the processor's answer on the pending payment, and marks the
/// current span with it: a decline is an error with an exception event.
async fn record(db: &Database, payment_id: &str, answer: &ProcessorAnswer) -> anyhow::Result<()> {
    let span = Span::current();
    let outcome = match answer {
        ProcessorAnswer::Approved { charge_id } => {
            span.record("payment.outcome", "approved");
            tracing::info!(name: "payment.approved", "payment approved");
            Outcome::Approved {
                processor_charge_id: charge_id,
            }
        }
        ProcessorAnswer::Declined { decline_code } => {
            span.record("payment.outcome", "declined");
            telemetry::record_exception(
                &span,
                "CardDeclined",
                &format!("card declined: {decline_code}"),
            );
            tracing::info!(
                name: "payment.declined",
                { payment.decline_code = decline_code.as_str() },
                "payment declined"
            );
            Outcome::Declined { decline_code }
        }
    };
    db::payments::settle(db, payment_id, &outcome)
        .await
        .context("recording the payment's outcome")
}

/// What became of an order's payment, as far as can be known now.
pub enum Settlement {
    Approved {
        payment_id: String,
    },
    Declined {
        payment_id: String,
    },
    /// The card was not charged: no attempt reached the processor.
    NotCharged,
    /// Not known yet: the attempt is still within its deadline, or the
    /// processor cannot be asked right now.
    Unknown,
}

/// Settles the payment of an order whose caller never heard the outcome,
/// inside `payments.settle_payment`: a pending attempt past its deadline is
/// looked up at the processor by its idempotency key, and the answer
/// stored. Settling a settled payment just reads it.
pub async fn settle_order(state: &AppState, order_id: &str) -> Result<Settlement, ApiError> {
    let span = tracing::info_span!(
        "payments.settle_payment",
        otel.kind = "internal",
        order.id = order_id,
        payment.id = Empty,
        payment.outcome = Empty,
    );
    async {
        let Some(payment) = db::payments::find_by_order(&state.db, order_id)
            .await
            .context("reading the order's payment")?
        else {
            // The attempt is recorded before the processor is called.
            return Ok(Settlement::NotCharged);
        };
        let span = Span::current();
        span.record("payment.id", payment.id.as_str());
        let payment_id = payment.id;
        let settlement = match payment.status.as_str() {
            "approved" => Settlement::Approved { payment_id },
            "declined" => Settlement::Declined { payment_id },
            "failed" => Settlement::NotCharged,
            _ if !payment.attempt_over => Settlement::Unknown,
            _ => match state.card_processor.lookup(&payment_id).await {
                Ok(Some(answer)) => {
                    record(&state.db, &payment_id, &answer).await?;
                    match answer {
                        ProcessorAnswer::Approved { .. } => Settlement::Approved { payment_id },
                        ProcessorAnswer::Declined { .. } => Settlement::Declined { payment_id },
                    }
                }
                Ok(None) => {
                    span.record("payment.outcome", "failed");
                    db::payments::settle(&state.db, &payment_id, &Outcome::Failed)
                        .await
                        .context("recording a payment that never arrived")?;
                    Settlement::NotCharged
                }
                Err(error) => {
                    tracing::warn!(exception.message = %error, "the card processor cannot say yet");
                    Settlement::Unknown
                }
            },
        };
        Ok(settlement)
    }
    .instrument(span)
    .await
}
