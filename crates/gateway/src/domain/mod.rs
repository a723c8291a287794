mod card;
mod checkout;

pub use card::{Card, YearMonth};
pub use checkout::{Checkout, CheckoutRequest};
