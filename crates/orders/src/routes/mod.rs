pub mod health;
pub mod orders;
