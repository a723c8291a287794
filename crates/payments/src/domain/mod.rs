mod card;
mod charge;

pub use card::Card;
pub use charge::{Charge, PaymentId};
