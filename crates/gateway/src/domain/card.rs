use std::fmt;

/// A month of a year, for card expiry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct YearMonth {
    pub year: u16,
    pub month: u8,
}

impl YearMonth {
    pub fn now() -> Self {
        let today = time::OffsetDateTime::now_utc();
        Self {
            year: u16::try_from(today.year()).unwrap_or(u16::MAX),
            month: u8::from(today.month()),
        }
    }
}

/// A card that may be sent for payment: a 12 to 19 digit number that
/// passes the Luhn check, a CVC of 3 or 4 digits, and an expiry that is
/// not in the past. `Debug` shows only the last four digits.
#[derive(Clone, PartialEq, Eq)]
pub struct Card {
    number: String,
    expiry: YearMonth,
    cvc: String,
}

impl Card {
    /// Every problem with the card, for one complete 422 answer.
    pub fn parse(
        number: &str,
        exp_month: i64,
        exp_year: i64,
        cvc: &str,
        today: YearMonth,
    ) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        let all_digits = |value: &str| value.bytes().all(|byte| byte.is_ascii_digit());
        if !(12..=19).contains(&number.len()) || !all_digits(number) {
            problems.push("card.number must be 12 to 19 digits".to_owned());
        } else if !passes_luhn(number) {
            problems.push("card.number fails the Luhn check".to_owned());
        }
        if !(3..=4).contains(&cvc.len()) || !all_digits(cvc) {
            problems.push("card.cvc must be 3 or 4 digits".to_owned());
        }
        let expiry = if let (Ok(month @ 1..=12), Ok(year)) =
            (u8::try_from(exp_month), u16::try_from(exp_year))
        {
            Some(YearMonth { year, month })
        } else {
            problems.push("card.exp_month must be 1 to 12 and card.exp_year a year".to_owned());
            None
        };
        if expiry.is_some_and(|expiry| expiry < today) {
            problems.push("card has expired".to_owned());
        }
        match expiry {
            Some(expiry) if problems.is_empty() => Ok(Self {
                number: number.to_owned(),
                expiry,
                cvc: cvc.to_owned(),
            }),
            _ => Err(problems),
        }
    }

    pub fn number(&self) -> &str {
        &self.number
    }

    pub fn expiry(&self) -> YearMonth {
        self.expiry
    }

    pub fn cvc(&self) -> &str {
        &self.cvc
    }
}

impl fmt::Debug for Card {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Card")
            .field("last4", &&self.number[self.number.len() - 4..])
            .finish_non_exhaustive()
    }
}

/// The Luhn checksum: catches every single-digit typo and most swaps.
fn passes_luhn(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .map(|byte| u32::from(byte - b'0'))
        .enumerate()
        .map(|(index, digit)| match (index % 2, digit * 2) {
            (0, _) => digit,
            (_, doubled) if doubled > 9 => doubled - 9,
            (_, doubled) => doubled,
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TODAY: YearMonth = YearMonth {
        year: 2026,
        month: 11,
    };

    #[test]
    fn accepts_the_test_cards() {
        for number in ["4242424242424242", "4000000000000002"] {
            assert!(
                Card::parse(number, 12, 2030, "123", TODAY).is_ok(),
                "{number}"
            );
        }
    }

    #[test]
    fn refuses_numbers_that_fail_luhn_or_length() {
        assert!(Card::parse("4242424242424241", 12, 2030, "123", TODAY).is_err());
        assert!(Card::parse("42424242424", 12, 2030, "123", TODAY).is_err());
        assert!(Card::parse("4242 4242 4242 4242", 12, 2030, "123", TODAY).is_err());
    }

    #[test]
    fn a_card_is_valid_through_its_expiry_month() {
        assert!(Card::parse("4242424242424242", 11, 2026, "123", TODAY).is_ok());
        assert_eq!(
            Card::parse("4242424242424242", 10, 2026, "123", TODAY).unwrap_err(),
            vec!["card has expired".to_owned()]
        );
    }

    #[test]
    fn reports_every_problem_at_once() {
        let problems = Card::parse("123", 13, 2030, "x", TODAY).unwrap_err();
        assert_eq!(problems.len(), 3);
    }

    #[test]
    fn debug_never_shows_the_number() {
        let card = Card::parse("4242424242424242", 12, 2030, "123", TODAY).unwrap();
        assert!(!format!("{card:?}").contains("424242424242"));
    }
}
