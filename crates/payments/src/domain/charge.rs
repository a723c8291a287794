use std::fmt;

use super::Card;

/// `pay_` and a time-ordered UUID: sortable, and unguessable enough.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentId(String);

impl PaymentId {
    pub fn generate() -> Self {
        Self(platform::id::new("pay"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PaymentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A charge that can be sent to the processor: a positive amount in a
/// three-letter currency, for an order id of the suite's shape, on a
/// well-formed card.
#[derive(Debug)]
pub struct Charge {
    pub order_id: String,
    pub amount_cents: i64,
    pub currency: String,
    pub card: Card,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChargeError {
    #[error("order_id must be an order id (ord_ and letters, digits or underscores)")]
    OrderId,
    #[error("amount_cents must be positive")]
    Amount,
    #[error("currency must be a three-letter ISO 4217 code")]
    Currency,
}

impl Charge {
    pub fn parse(
        order_id: &str,
        amount_cents: i64,
        currency: &str,
        card: Card,
    ) -> Result<Self, ChargeError> {
        // Checked before the card is charged: an id the payments table
        // refuses would fail the insert after the money has moved.
        if !platform::id::is_well_formed(order_id, "ord") {
            return Err(ChargeError::OrderId);
        }
        if amount_cents <= 0 {
            return Err(ChargeError::Amount);
        }
        if currency.len() != 3 || !currency.bytes().all(|byte| byte.is_ascii_uppercase()) {
            return Err(ChargeError::Currency);
        }
        Ok(Self {
            order_id: order_id.to_owned(),
            amount_cents,
            currency: currency.to_owned(),
            card,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card() -> Card {
        Card::parse("4242424242424242", 12, 2030, "123").unwrap()
    }

    #[test]
    fn refuses_order_ids_that_cannot_be_ids_before_any_charge() {
        for order_id in [
            "",
            "ord_",
            "ord_1\u{0}",
            "x_1",
            &format!("ord_{}", "0".repeat(61)),
        ] {
            assert_eq!(
                Charge::parse(order_id, 2900, "EUR", card()).unwrap_err(),
                ChargeError::OrderId,
                "{order_id:?}"
            );
        }
        assert!(Charge::parse("ord_0195a1b2", 2900, "EUR", card()).is_ok());
    }
}
