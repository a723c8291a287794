mod payments;

pub use payments::{CardDetails, Payments};
