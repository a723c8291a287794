pub mod idempotency;
pub mod orders;
pub mod outbox;
pub mod products;
