pub mod purchases;
pub mod users;
