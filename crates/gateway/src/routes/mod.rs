pub mod checkout;
pub mod health;
pub mod orders;
pub mod storefront;
