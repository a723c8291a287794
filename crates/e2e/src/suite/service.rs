//! The suite's services: names, ports, databases.

use std::fmt;

/// The suite's processes, in start order: callees before their callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    CardProcessor,
    Payments,
    Notifications,
    Users,
    Orders,
    Gateway,
}

impl Service {
    /// Every service, in start order.
    pub const ALL: [Self; 6] = [
        Self::CardProcessor,
        Self::Payments,
        Self::Notifications,
        Self::Users,
        Self::Orders,
        Self::Gateway,
    ];

    /// The package, binary and `service.name`.
    pub fn name(self) -> &'static str {
        match self {
            Self::CardProcessor => "card-processor",
            Self::Payments => "payments",
            Self::Notifications => "notifications",
            Self::Users => "users",
            Self::Orders => "orders",
            Self::Gateway => "gateway",
        }
    }

    pub(super) fn has_database(self) -> bool {
        !matches!(self, Self::CardProcessor | Self::Gateway)
    }

    pub(super) fn uses_nats(self) -> bool {
        matches!(self, Self::Users | Self::Orders)
    }

    pub(super) fn callees(self) -> &'static [Self] {
        match self {
            Self::Payments => &[Self::CardProcessor],
            Self::Orders => &[Self::Payments],
            Self::Gateway => &[Self::Users, Self::Orders, Self::Notifications],
            _ => &[],
        }
    }

    /// `card-processor` → `CARD_PROCESSOR_URL`, the variable callers read.
    pub(super) fn url_variable(self) -> String {
        format!("{}_URL", self.name().to_uppercase().replace('-', "_"))
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
