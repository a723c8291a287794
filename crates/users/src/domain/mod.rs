mod customer_id;

pub use customer_id::CustomerId;
