use std::{collections::HashSet, fmt};

/// At most this many distinct products in one order.
const MAX_LINES: usize = 50;

/// `ord_` and a time-ordered UUID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderId(String);

impl OrderId {
    pub fn generate() -> Self {
        Self(platform::id::new("ord"))
    }

    /// An id as a caller sent it; `None` if it cannot be one of ours.
    pub fn parse(value: &str) -> Option<Self> {
        let rest = value.strip_prefix("ord_")?;
        (rest.len() == 32 && rest.bytes().all(|byte| byte.is_ascii_hexdigit()))
            .then(|| Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A product code: `sku_` and lowercase letters, digits or underscores.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sku(String);

impl Sku {
    pub fn parse(value: &str) -> Option<Self> {
        let rest = value.strip_prefix("sku_")?;
        let valid = !rest.is_empty()
            && rest.len() <= 60
            && rest
                .bytes()
                .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_');
        valid.then(|| Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How many of one product: 1 to 100.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quantity(i32);

impl Quantity {
    pub fn parse(value: i64) -> Option<Self> {
        i32::try_from(value)
            .ok()
            .filter(|value| (1..=100).contains(value))
            .map(Self)
    }

    pub fn get(self) -> i32 {
        self.0
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderLine {
    pub sku: Sku,
    pub quantity: Quantity,
}

/// An order that may be placed: a customer id of the suite's shape (users
/// has the last word on whether the customer exists) and 1 to 50 lines,
/// each product once.
#[derive(Debug)]
pub struct NewOrder {
    pub customer_id: String,
    pub lines: Vec<OrderLine>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    #[error("customer_id must be a customer id (cus_ and letters, digits or underscores)")]
    Customer,
    #[error("an order needs 1 to {MAX_LINES} items")]
    LineCount,
    #[error("{0:?} is not a valid sku")]
    Sku(String),
    #[error("quantity of {0} must be 1 to 100")]
    Quantity(String),
    #[error("{0} is listed twice")]
    Duplicate(String),
}

impl NewOrder {
    /// `lines` as `(sku, quantity)` pairs, as the caller sent them.
    pub fn parse(customer_id: &str, lines: &[(String, i64)]) -> Result<Self, OrderError> {
        if !platform::id::is_well_formed(customer_id, "cus") {
            return Err(OrderError::Customer);
        }
        if lines.is_empty() || lines.len() > MAX_LINES {
            return Err(OrderError::LineCount);
        }
        let mut seen = HashSet::new();
        let lines = lines
            .iter()
            .map(|(sku, quantity)| {
                let sku = Sku::parse(sku).ok_or_else(|| OrderError::Sku(sku.clone()))?;
                let quantity = Quantity::parse(*quantity)
                    .ok_or_else(|| OrderError::Quantity(sku.0.clone()))?;
                if !seen.insert(sku.clone()) {
                    return Err(OrderError::Duplicate(sku.0));
                }
                Ok(OrderLine { sku, quantity })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            customer_id: customer_id.to_owned(),
            lines,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(pairs: &[(&str, i64)]) -> Vec<(String, i64)> {
        pairs
            .iter()
            .map(|(sku, quantity)| ((*sku).to_owned(), *quantity))
            .collect()
    }

    #[test]
    fn parses_a_valid_order() {
        let order = NewOrder::parse(
            "cus_1001",
            &lines(&[("sku_keyboard", 1), ("sku_mouse", 100)]),
        )
        .unwrap();
        assert_eq!(order.lines.len(), 2);
    }

    #[test]
    fn refuses_bad_quantities_and_duplicates() {
        assert_eq!(
            NewOrder::parse("cus_1001", &lines(&[("sku_mouse", 0)])).unwrap_err(),
            OrderError::Quantity("sku_mouse".into())
        );
        assert_eq!(
            NewOrder::parse("cus_1001", &lines(&[("sku_mouse", 101)])).unwrap_err(),
            OrderError::Quantity("sku_mouse".into())
        );
        assert_eq!(
            NewOrder::parse("cus_1001", &lines(&[("sku_mouse", 1), ("sku_mouse", 2)])).unwrap_err(),
            OrderError::Duplicate("sku_mouse".into())
        );
        assert_eq!(
            NewOrder::parse("cus_1001", &[]).unwrap_err(),
            OrderError::LineCount
        );
    }

    #[test]
    fn refuses_customer_ids_that_cannot_be_ids() {
        for customer_id in ["", "cus_", "cus_10\u{0}01", "1001"] {
            assert_eq!(
                NewOrder::parse(customer_id, &lines(&[("sku_mouse", 1)])).unwrap_err(),
                OrderError::Customer,
                "{customer_id:?}"
            );
        }
    }

    #[test]
    fn order_ids_round_trip() {
        let id = OrderId::generate();
        assert_eq!(OrderId::parse(id.as_str()), Some(id));
        assert_eq!(OrderId::parse("ord_x"), None);
    }
}
