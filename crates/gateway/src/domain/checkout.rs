use serde::Deserialize;

use super::{Card, YearMonth};

/// `POST /checkout`'s body as sent. No `Debug`: it holds a full card number.
#[derive(Deserialize)]
pub struct CheckoutRequest {
    customer_id: String,
    items: Vec<ItemRequest>,
    card: CardRequest,
}

#[derive(Deserialize)]
struct ItemRequest {
    sku: String,
    quantity: i64,
}

#[derive(Deserialize)]
struct CardRequest {
    number: String,
    exp_month: i64,
    exp_year: i64,
    cvc: String,
}

/// A checkout worth sending downstream: every field checked.
#[derive(Debug)]
pub struct Checkout {
    pub customer_id: String,
    pub items: Vec<CheckoutItem>,
    pub card: Card,
}

#[derive(Debug)]
pub struct CheckoutItem {
    pub sku: String,
    pub quantity: i64,
}

impl Checkout {
    /// Checks everything the gateway can check without asking anyone, and
    /// reports every problem at once. Whether the customer and the products
    /// exist is for `users` and `orders` to say.
    pub fn parse(request: CheckoutRequest, today: YearMonth) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        if request.customer_id.is_empty() {
            problems.push("customer_id is required".to_owned());
        } else if !platform::id::is_well_formed(&request.customer_id, "cus") {
            problems.push("customer_id is not a customer id".to_owned());
        }
        if request.items.is_empty() {
            problems.push("items must not be empty".to_owned());
        }
        for (index, item) in request.items.iter().enumerate() {
            if item.sku.is_empty() {
                problems.push(format!("items[{index}].sku is required"));
            }
            if !(1..=100).contains(&item.quantity) {
                problems.push(format!("items[{index}].quantity must be 1 to 100"));
            }
        }
        let card = &request.card;
        let card = Card::parse(
            &card.number,
            card.exp_month,
            card.exp_year,
            &card.cvc,
            today,
        )
        .map_err(|card_problems| problems.extend(card_problems));
        match card {
            Ok(card) if problems.is_empty() => Ok(Self {
                customer_id: request.customer_id,
                items: request
                    .items
                    .into_iter()
                    .map(|item| CheckoutItem {
                        sku: item.sku,
                        quantity: item.quantity,
                    })
                    .collect(),
                card,
            }),
            _ => Err(problems),
        }
    }
}
