pub mod health;
pub mod notifications;
