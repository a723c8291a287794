//! Endpoints, and what each one refuses.

#![allow(
    clippy::wildcard_imports,
    reason = "the sections of one test module share its imports"
)]

use super::*;

/// Every endpoint of the suite that reads a JSON body or a path id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Endpoint {
    Checkout,
    CreateOrder,
    CreatePayment,
    CreateNotification,
    GatewayOrder,
    Order,
    User,
}

impl Endpoint {
    pub(super) const ALL: [Self; 7] = [
        Self::Checkout,
        Self::CreateOrder,
        Self::CreatePayment,
        Self::CreateNotification,
        Self::GatewayOrder,
        Self::Order,
        Self::User,
    ];

    pub(super) fn service(self) -> Service {
        match self {
            Self::Checkout | Self::GatewayOrder => Service::Gateway,
            Self::CreateOrder | Self::Order => Service::Orders,
            Self::CreatePayment => Service::Payments,
            Self::CreateNotification => Service::Notifications,
            Self::User => Service::Users,
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Checkout => "gateway POST /checkout",
            Self::CreateOrder => "orders POST /orders",
            Self::CreatePayment => "payments POST /payments",
            Self::CreateNotification => "notifications POST /notifications",
            Self::GatewayOrder => "gateway GET /orders/{order_id}",
            Self::Order => "orders GET /orders/{order_id}",
            Self::User => "users GET /users/{customer_id}",
        }
    }

    /// The path of a JSON endpoint.
    pub(super) fn json_path(self) -> Option<&'static str> {
        match self {
            Self::Checkout => Some("/checkout"),
            Self::CreateOrder => Some("/orders"),
            Self::CreatePayment => Some("/payments"),
            Self::CreateNotification => Some("/notifications"),
            Self::GatewayOrder | Self::Order | Self::User => None,
        }
    }

    /// A path this endpoint answers.
    pub(super) fn sample_path(self) -> String {
        match self {
            Self::GatewayOrder | Self::Order => format!("/orders/{UNKNOWN_ORDER}"),
            Self::User => "/users/cus_1001".to_owned(),
            _ => self.json_path().unwrap_or("/").to_owned(),
        }
    }

    pub(super) fn cases(self) -> u32 {
        if self.json_path().is_some() {
            BODY_CASES
        } else {
            PATH_CASES
        }
    }

    pub(super) fn requests(self) -> BoxedStrategy<BadRequest> {
        let requests = match self {
            Self::Checkout => checkout_endpoint().requests(),
            Self::CreateOrder => create_order_endpoint().requests(),
            Self::CreatePayment => create_payment_endpoint().requests(),
            Self::CreateNotification => create_notification_endpoint().requests(),
            Self::GatewayOrder | Self::Order => path_requests("/orders/", "ord_"),
            Self::User => path_requests("/users/", "cus_"),
        };
        // Whatever was generated, it holds no card number: the contract's
        // test card in the gateway's base body is the one exception, and
        // the final scan checks that it was never logged.
        requests
            .prop_filter("looks like a card number", |request| {
                !request.holds_card_number()
            })
            .boxed()
    }
}

/// The JSON kinds of a request's members.
#[derive(Clone, Copy, Debug)]
pub(super) enum Kind {
    Text,
    Integer,
    List,
    Object,
}

impl Kind {
    /// Any JSON value of another kind.
    pub(super) fn other_than(self) -> impl Strategy<Value = Value> {
        any_json().prop_filter("of the member's own kind", move |value| match self {
            Self::Text => !value.is_string(),
            Self::Integer => !value.is_i64() && !value.is_u64(),
            Self::List => !value.is_array(),
            // serde reads a struct from an array too, by position.
            Self::Object => !value.is_object() && !value.is_array(),
        })
    }
}

/// A member of a request body: where it is, its kind, and values of that
/// kind the service refuses (422).
pub(super) struct Member {
    pub(super) pointer: &'static str,
    pub(super) kind: Kind,
    pub(super) refused: Option<BoxedStrategy<Value>>,
}

pub(super) fn member<V: Into<Value> + std::fmt::Debug + 'static>(
    pointer: &'static str,
    kind: Kind,
    refused: impl Strategy<Value = V> + 'static,
) -> Member {
    Member {
        pointer,
        kind,
        refused: Some(refused.prop_map(Into::into).boxed()),
    }
}

/// A JSON endpoint: a body it accepts, and its members.
pub(super) struct JsonEndpoint {
    pub(super) path: &'static str,
    pub(super) base: Value,
    pub(super) members: Vec<Member>,
    /// The objects unknown members may be added to.
    pub(super) objects: &'static [&'static str],
    pub(super) takes_idempotency_key: bool,
}

pub(super) fn checkout_endpoint() -> JsonEndpoint {
    JsonEndpoint {
        path: "/checkout",
        base: checkout("cus_1001", "sku_mouse", 1, APPROVED_CARD),
        members: vec![
            member("/customer_id", Kind::Text, malformed_id("cus")),
            member("/items", Kind::List, Just(json!([]))),
            member("/items/0/sku", Kind::Text, malformed_sku()),
            member("/items/0/quantity", Kind::Integer, bad_quantity()),
            object("/card"),
            member("/card/number", Kind::Text, bad_card_number(true)),
            member("/card/exp_month", Kind::Integer, bad_month()),
            // Expired, whatever the month, or past any year a u16 holds.
            member(
                "/card/exp_year",
                Kind::Integer,
                prop_oneof![below(2025), above(65_536)],
            ),
            member("/card/cvc", Kind::Text, bad_cvc()),
        ],
        objects: &["", "/items/0", "/card"],
        takes_idempotency_key: true,
    }
}

pub(super) fn create_order_endpoint() -> JsonEndpoint {
    let lines = |count: usize| -> Value {
        (0..count)
            .map(|line| json!({"sku": format!("sku_line_{line}"), "quantity": 1}))
            .collect()
    };
    let twice = json!([{"sku": "sku_mouse", "quantity": 1}, {"sku": "sku_mouse", "quantity": 2}]);
    JsonEndpoint {
        path: "/orders",
        base: checkout("cus_1001", "sku_mouse", 1, NOT_A_CARD),
        members: vec![
            member("/customer_id", Kind::Text, malformed_id("cus")),
            member(
                "/items",
                Kind::List,
                prop_oneof![Just(lines(0)), Just(lines(51)), Just(twice)],
            ),
            member("/items/0/sku", Kind::Text, malformed_sku()),
            member("/items/0/quantity", Kind::Integer, bad_quantity()),
            object("/card"),
            // The card passes through orders to payments, which refuses it.
            member("/card/number", Kind::Text, bad_card_number(false)),
            member("/card/exp_month", Kind::Integer, bad_month()),
            member("/card/exp_year", Kind::Integer, not_a_u16()),
            member("/card/cvc", Kind::Text, bad_cvc()),
        ],
        objects: &["", "/items/0", "/card"],
        takes_idempotency_key: true,
    }
}

pub(super) fn create_payment_endpoint() -> JsonEndpoint {
    JsonEndpoint {
        path: "/payments",
        base: json!({"order_id": UNKNOWN_ORDER, "amount_cents": 2900, "currency": "EUR",
                     "card": {"number": NOT_A_CARD, "exp_month": 12, "exp_year": 2030, "cvc": "123"}}),
        members: vec![
            member("/order_id", Kind::Text, malformed_id("ord")),
            member("/amount_cents", Kind::Integer, below(0)),
            member(
                "/currency",
                Kind::Text,
                prop_oneof!["[A-Z]{0,2}", "[A-Z]{4,8}", "[a-z]{3}", "[A-Z][^A-Z][A-Z]"],
            ),
            object("/card"),
            member("/card/number", Kind::Text, bad_card_number(false)),
            member("/card/exp_month", Kind::Integer, bad_month()),
            member("/card/exp_year", Kind::Integer, not_a_u16()),
            member("/card/cvc", Kind::Text, bad_cvc()),
        ],
        objects: &["", "/card"],
        takes_idempotency_key: false,
    }
}

pub(super) fn create_notification_endpoint() -> JsonEndpoint {
    JsonEndpoint {
        path: "/notifications",
        base: json!({"order_id": UNKNOWN_ORDER, "customer_id": "cus_1001", "template": "order_confirmed"}),
        members: vec![
            member("/order_id", Kind::Text, malformed_id("ord")),
            member("/customer_id", Kind::Text, malformed_id("cus")),
            member(
                "/template",
                Kind::Text,
                text().prop_filter("a known template", |name| name != "order_confirmed"),
            ),
        ],
        objects: &[""],
        takes_idempotency_key: false,
    }
}

/// An object member: of the wrong kind or missing, never refused whole.
pub(super) fn object(pointer: &'static str) -> Member {
    Member {
        pointer,
        kind: Kind::Object,
        refused: None,
    }
}
