pub mod idempotency;
pub mod orders;
pub mod outbox;
