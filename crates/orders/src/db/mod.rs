pub mod orders;
pub mod products;
