use std::fmt;

/// A card as the processor needs it. Its `Debug` shows only the last four
/// digits, so a stray `?card` in a log line leaks nothing.
#[derive(Clone, PartialEq, Eq)]
pub struct Card {
    number: String,
    exp_month: u8,
    exp_year: u16,
    cvc: String,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    #[error("card number must be 12 to 19 digits")]
    Number,
    #[error("expiry month must be 1 to 12")]
    ExpiryMonth,
    #[error("CVC must be 3 or 4 digits")]
    Cvc,
}

impl Card {
    /// Checks the shape only: whether the card is good is the processor's
    /// call (the gateway already refused numbers that fail Luhn).
    pub fn parse(number: &str, exp_month: u8, exp_year: u16, cvc: &str) -> Result<Self, CardError> {
        let digits = |value: &str, lengths: std::ops::RangeInclusive<usize>| {
            lengths.contains(&value.len()) && value.bytes().all(|byte| byte.is_ascii_digit())
        };
        if !digits(number, 12..=19) {
            return Err(CardError::Number);
        }
        if !(1..=12).contains(&exp_month) {
            return Err(CardError::ExpiryMonth);
        }
        if !digits(cvc, 3..=4) {
            return Err(CardError::Cvc);
        }
        Ok(Self {
            number: number.to_owned(),
            exp_month,
            exp_year,
            cvc: cvc.to_owned(),
        })
    }

    /// The only part of the number that may be stored, logged or traced.
    pub fn last4(&self) -> &str {
        &self.number[self.number.len() - 4..]
    }

    pub fn number(&self) -> &str {
        &self.number
    }

    pub fn exp_month(&self) -> u8 {
        self.exp_month
    }

    pub fn exp_year(&self) -> u16 {
        self.exp_year
    }

    pub fn cvc(&self) -> &str {
        &self.cvc
    }
}

impl fmt::Debug for Card {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Card")
            .field("last4", &self.last4())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_only_the_last_four_digits() {
        let card = Card::parse("4242424242424242", 12, 2030, "123").unwrap();
        let debug = format!("{card:?}");
        assert!(debug.contains("4242"));
        assert!(!debug.contains("424242424242"));
        assert!(!debug.contains("123"));
    }

    #[test]
    fn refuses_malformed_cards() {
        assert_eq!(Card::parse("4242", 12, 2030, "123"), Err(CardError::Number));
        assert_eq!(
            Card::parse("4242x24242424242", 12, 2030, "123"),
            Err(CardError::Number)
        );
        assert_eq!(
            Card::parse("4242424242424242", 13, 2030, "123"),
            Err(CardError::ExpiryMonth)
        );
        assert_eq!(
            Card::parse("4242424242424242", 12, 2030, "12"),
            Err(CardError::Cvc)
        );
    }
}
