mod card;
mod checkout;
mod idempotency_key;

pub use card::{Card, YearMonth};
pub use checkout::{Checkout, CheckoutRequest};
pub use idempotency_key::IdempotencyKey;
