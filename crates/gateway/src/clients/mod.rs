mod notifications;
mod orders;
mod users;

pub use notifications::Notifications;
pub use orders::{Order, Orders};
pub use users::Users;

use url::Url;

/// `base` joined with `path`; the URLs come from validated configuration,
/// so a failure here is a bug, reported as the base URL unchanged.
fn endpoint(base: &Url, path: &str) -> Url {
    base.join(path).unwrap_or_else(|_| base.clone())
}
