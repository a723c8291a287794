mod order;

pub use order::{NewOrder, OrderError, OrderId, OrderLine};
