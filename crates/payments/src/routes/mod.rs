pub mod health;
pub mod payments;
pub mod settlements;
