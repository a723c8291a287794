//! Bad input, to every service: generated bodies, path ids and headers get
//! the contract's 4xx as problem+json, never a 5xx; unknown members are
//! ignored; a card number sent with the wrong JSON type is not logged; a
//! slow body gets 408; a request head past hyper's limit gets hyper's 431.
//!
//! The generated cases are proptest's, driven by hand: proptest is
//! synchronous, so each endpoint's runner works on a blocking thread and
//! sends its requests through the suite's runtime. Every case is invalid in
//! at least one way the contract names (a valid checkout would place a real
//! order), and nothing generated holds what looks like a card number (a run
//! of 12 to 19 digits that passes Luhn), so the final scan of what was
//! logged stays meaningful. Seeds are random, so each run tries other
//! cases: a failure prints the shrunk case, and `PROPTEST_RNG_SEED=<u64>`
//! makes a run repeatable.

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, anyhow, ensure};
use e2e::{Service, Suite};
use proptest::{
    collection::vec,
    prelude::*,
    sample::{Index, select},
    strategy::Union,
    test_runner::{Config, TestCaseError, TestRunner},
};
use reqwest::{Method, header::HeaderValue};
use serde_json::{Value, json};
use tokio::{runtime::Handle, task::JoinSet};

use crate::support::{APPROVED_CARD, DECLINED_CARD, EXPORT_TIMEOUT, checkout, reply};

/// Generated cases per JSON endpoint: enough to meet every kind of flaw
/// several times, few enough for a debug build to answer in seconds.
const BODY_CASES: u32 = 64;
/// Generated cases per endpoint with a path id.
const PATH_CASES: u32 = 48;
/// Bounds the time a failure spends shrinking against live services.
const MAX_SHRINK_ITERS: u32 = 256;
/// Longer than any answer of a debug build to a bad request.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// The services' body-read deadline (10 s at most, less within a shorter
/// request deadline), and a margin for a debug build.
const SLOW_BODY_VERDICT: Duration = Duration::from_secs(15);
/// The contract's body limit.
const BODY_LIMIT: usize = 64 * 1024;

/// Bodies that pass every check up to the card processor, which declines
/// them: a 16-digit number that fails Luhn. Used where a service checks
/// only the card's shape, so a flaw that failed to invalidate a case shows
/// as a 402, never as a charge.
const NOT_A_CARD: &str = "4242424242424241";
/// An order id of the right shape that no order has.
const UNKNOWN_ORDER: &str = "ord_00000000000000000000000000000000";
/// Stands for a number literal `serde_json`'s `Value` cannot hold.
const HUGE_NUMBER_PLACEHOLDER: &str = "\u{1}huge number\u{1}";

// ---------------------------------------------------------------------------
// The tests

pub async fn generated_bad_input_gets_a_4xx_problem_from_every_endpoint(
    suite: Arc<Suite>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut probes = JoinSet::new();
    for endpoint in Endpoint::ALL {
        let base = suite.url(endpoint.service());
        let runtime = Handle::current();
        probes.spawn_blocking(move || probe(&runtime, endpoint, &base));
    }
    let mut outcomes = Vec::new();
    while let Some(outcome) = probes.join_next().await {
        outcomes.push(outcome?);
    }
    outcomes.sort_by_key(|outcome| outcome.endpoint.name());
    for outcome in &outcomes {
        println!(
            "bad input: {}: {} generated requests, {} answered 5xx",
            outcome.endpoint.name(),
            outcome.requests,
            outcome.server_errors
        );
    }
    let requests: usize = outcomes.iter().map(|outcome| outcome.requests).sum();
    let server_errors: usize = outcomes.iter().map(|outcome| outcome.server_errors).sum();
    println!(
        "bad input: {requests} generated requests, {server_errors} answered 5xx ({:.1} s)",
        started.elapsed().as_secs_f64()
    );
    let failures: Vec<String> = outcomes
        .iter()
        .filter_map(|outcome| {
            let failure = outcome.failure.as_ref()?;
            Some(format!("{}: {failure}", outcome.endpoint.name()))
        })
        .collect();
    ensure!(failures.is_empty(), "{}", failures.join("\n\n"));
    ensure!(server_errors == 0, "{server_errors} answers were 5xx");
    Ok(())
}

/// Unknown members are ignored, as serde does by default, in every
/// service: requests that carry them are answered as if they were not
/// there, down to the card processor's decline.
pub async fn unknown_members_are_ignored_by_every_service(suite: Arc<Suite>) -> anyhow::Result<()> {
    let client = e2e::http_client();
    let post = |service: Service, path: &str, mut body: Value| {
        add_unknown_members(&mut body);
        client
            .post(format!("{}{path}", suite.url(service)))
            .json(&body)
    };

    let placed = reply(post(
        Service::Gateway,
        "/checkout",
        checkout("cus_1001", "sku_mouse", 1, APPROVED_CARD),
    ))
    .await?;
    assert_eq!(placed.status, 201, "{:#}", placed.body);
    assert_eq!(placed.str("status"), "confirmed");

    reply(post(
        Service::Orders,
        "/orders",
        checkout("cus_1001", "sku_mouse", 1, DECLINED_CARD),
    ))
    .await?
    .assert_problem(402, "card-declined");

    let payment = json!({"order_id": UNKNOWN_ORDER, "amount_cents": 2900, "currency": "EUR",
                         "card": {"number": DECLINED_CARD, "exp_month": 12, "exp_year": 2030, "cvc": "123"}});
    reply(post(Service::Payments, "/payments", payment))
        .await?
        .assert_problem(402, "card-declined");

    let notification = json!({"order_id": UNKNOWN_ORDER, "customer_id": "cus_1001", "template": "order_confirmed"});
    let queued = reply(post(Service::Notifications, "/notifications", notification)).await?;
    assert_eq!(queued.status, 202, "{:#}", queued.body);
    Ok(())
}

/// A card number or CVC sent as a JSON number, where a string belongs, is a
/// likely slip of a caller; serde's message quotes the value it refused,
/// and that message must not carry it into the logs.
pub async fn card_data_of_the_wrong_type_is_not_logged(suite: Arc<Suite>) -> anyhow::Result<()> {
    // A Visa test number no other test sends (it passes Luhn), and a CVC.
    const NUMBER: u64 = 4_111_111_111_111_111;
    const CVC: u64 = 7_913;
    let mut trace_ids = Vec::new();
    for (service, path) in [
        (Service::Gateway, "/checkout"),
        (Service::Orders, "/orders"),
        (Service::Payments, "/payments"),
    ] {
        for (member, value) in [("number", NUMBER), ("cvc", CVC)] {
            let mut body = checkout("cus_1001", "sku_mouse", 1, APPROVED_CARD);
            if service == Service::Payments {
                body = json!({"order_id": UNKNOWN_ORDER, "amount_cents": 2900, "currency": "EUR", "card": body["card"]});
            }
            body["card"][member] = json!(value);
            let url = format!("{}{path}", suite.url(service));
            let answer = reply(e2e::http_client().post(url).json(&body)).await?;
            answer.assert_problem(422, "invalid-request");
            let detail = answer.str("detail");
            assert!(detail.contains(&format!("card.{member}")), "{detail}");
            assert!(!detail.contains(&value.to_string()), "{detail}");
            trace_ids.push(answer.trace_id);
        }
    }
    // Each rejection is logged once with its trace; wait for them all.
    suite
        .receiver()
        .wait_for_logs(
            |logs| {
                trace_ids.iter().all(|trace_id| {
                    logs.iter()
                        .any(|log| log.trace_id.as_deref() == Some(trace_id))
                })
            },
            EXPORT_TIMEOUT,
        )
        .await;
    let cvc_value = format!("`{CVC}`");
    for secret in [NUMBER.to_string(), cvc_value] {
        assert!(
            !suite.receiver().raw_payload_contains(secret.as_bytes()),
            "{secret} was exported"
        );
        for (service, line) in suite.all_output() {
            assert!(!line.contains(&secret), "{service} logged {secret}: {line}");
        }
    }
    Ok(())
}

/// A client that sends the head and then stalls or trickles its body gets
/// a 408 problem once the body-read deadline has passed: the handler is
/// never tied up for longer.
pub async fn slow_bodies_get_a_408_problem_in_time(suite: Arc<Suite>) -> anyhow::Result<()> {
    let mut clients = JoinSet::new();
    for endpoint in Endpoint::ALL {
        let Some(path) = endpoint.json_path() else {
            continue;
        };
        let address = address(&suite, endpoint.service())?;
        for trickle in [false, true] {
            clients.spawn_blocking(move || {
                let started = Instant::now();
                let answer = slow_body(address, path, trickle);
                (endpoint, trickle, started.elapsed(), answer)
            });
        }
    }
    while let Some(result) = clients.join_next().await {
        let (endpoint, trickle, elapsed, answer) = result?;
        let pace = if trickle { "trickling" } else { "stalled" };
        let answer = answer.with_context(|| format!("{} {pace}", endpoint.name()))?;
        ensure!(
            answer.status == 408 && answer.content_type() == Some("application/problem+json"),
            "{} {pace}, after {elapsed:?}: {answer:?}",
            endpoint.name()
        );
        let problem: Value = serde_json::from_slice(&answer.body)?;
        ensure!(problem["status"] == 408, "{problem:#}");
    }
    Ok(())
}

/// A client that sends half a request head and stalls is cut off once the
/// services' head deadline (10 s) passes, instead of holding its
/// connection for as long as it likes.
pub async fn slow_heads_are_cut_off_in_time(suite: Arc<Suite>) -> anyhow::Result<()> {
    let mut clients = JoinSet::new();
    for service in [Service::Gateway, Service::Orders] {
        let address = address(&suite, service)?;
        clients.spawn_blocking(move || -> anyhow::Result<(Service, Duration)> {
            let mut stream = TcpStream::connect(address)?;
            stream.set_read_timeout(Some(SLOW_BODY_VERDICT))?;
            write!(
                stream,
                "POST /checkout HTTP/1.1\r\nhost: {address}\r\ncontent-type: appl"
            )?;
            let started = Instant::now();
            let mut answer = Vec::new();
            // Closed (or answered and closed): `read_to_end` returns. Still
            // open at the verdict: the read times out with an error.
            stream
                .read_to_end(&mut answer)
                .with_context(|| format!("{service} kept a stalled head open"))?;
            Ok((service, started.elapsed()))
        });
    }
    while let Some(result) = clients.join_next().await {
        let (service, elapsed) = result??;
        ensure!(
            elapsed >= Duration::from_secs(9),
            "{service} closed after {elapsed:?}, before the deadline"
        );
    }
    Ok(())
}

/// hyper answers a request head past its limits (about 400 KiB, 100
/// headers) itself, with 431 and no body: before axum and the services, so
/// it is not problem+json and carries no trace. It is never a 5xx.
pub async fn heads_past_the_limit_get_hypers_431(suite: Arc<Suite>) -> anyhow::Result<()> {
    let huge_header = format!("x-padding: {}\r\n", "a".repeat(512 * 1024));
    let many_headers = "x-header: many\r\n".repeat(200);
    let mut clients = JoinSet::new();
    for endpoint in Endpoint::ALL {
        let address = address(&suite, endpoint.service())?;
        for headers in [huge_header.clone(), many_headers.clone()] {
            let head = format!(
                "GET {} HTTP/1.1\r\nhost: {address}\r\n{headers}\r\n",
                endpoint.sample_path()
            );
            clients.spawn_blocking(move || (endpoint, exchange(address, head.as_bytes())));
        }
    }
    while let Some(result) = clients.join_next().await {
        let (endpoint, answer) = result?;
        let answer = answer.with_context(|| endpoint.name())?;
        ensure!(answer.status == 431, "{}: {answer:?}", endpoint.name());
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Endpoints and what each one refuses

/// Every endpoint of the suite that reads a JSON body or a path id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Endpoint {
    Checkout,
    CreateOrder,
    CreatePayment,
    CreateNotification,
    GatewayOrder,
    Order,
    User,
}

impl Endpoint {
    const ALL: [Self; 7] = [
        Self::Checkout,
        Self::CreateOrder,
        Self::CreatePayment,
        Self::CreateNotification,
        Self::GatewayOrder,
        Self::Order,
        Self::User,
    ];

    fn service(self) -> Service {
        match self {
            Self::Checkout | Self::GatewayOrder => Service::Gateway,
            Self::CreateOrder | Self::Order => Service::Orders,
            Self::CreatePayment => Service::Payments,
            Self::CreateNotification => Service::Notifications,
            Self::User => Service::Users,
        }
    }

    fn name(self) -> &'static str {
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
    fn json_path(self) -> Option<&'static str> {
        match self {
            Self::Checkout => Some("/checkout"),
            Self::CreateOrder => Some("/orders"),
            Self::CreatePayment => Some("/payments"),
            Self::CreateNotification => Some("/notifications"),
            Self::GatewayOrder | Self::Order | Self::User => None,
        }
    }

    /// A path this endpoint answers.
    fn sample_path(self) -> String {
        match self {
            Self::GatewayOrder | Self::Order => format!("/orders/{UNKNOWN_ORDER}"),
            Self::User => "/users/cus_1001".to_owned(),
            _ => self.json_path().unwrap_or("/").to_owned(),
        }
    }

    fn cases(self) -> u32 {
        if self.json_path().is_some() {
            BODY_CASES
        } else {
            PATH_CASES
        }
    }

    fn requests(self) -> BoxedStrategy<BadRequest> {
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
enum Kind {
    Text,
    Integer,
    List,
    Object,
}

impl Kind {
    /// Any JSON value of another kind.
    fn other_than(self) -> impl Strategy<Value = Value> {
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
struct Member {
    pointer: &'static str,
    kind: Kind,
    refused: Option<BoxedStrategy<Value>>,
}

fn member<V: Into<Value> + std::fmt::Debug + 'static>(
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
struct JsonEndpoint {
    path: &'static str,
    base: Value,
    members: Vec<Member>,
    /// The objects unknown members may be added to.
    objects: &'static [&'static str],
    takes_idempotency_key: bool,
}

fn checkout_endpoint() -> JsonEndpoint {
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

fn create_order_endpoint() -> JsonEndpoint {
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

fn create_payment_endpoint() -> JsonEndpoint {
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

fn create_notification_endpoint() -> JsonEndpoint {
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
fn object(pointer: &'static str) -> Member {
    Member {
        pointer,
        kind: Kind::Object,
        refused: None,
    }
}

// ---------------------------------------------------------------------------
// Flaws, and the requests they make

/// What makes a generated request bad, and the status the contract gives
/// it: 400 for a body that is not JSON or not declared as JSON, 413 past
/// 64 KiB, 422 for JSON of the wrong shape or with refused values.
#[derive(Clone, Debug)]
enum Flaw {
    /// The whole body a JSON value that is not an object (422).
    NotAnObject(Value),
    Missing(&'static str),
    WrongKind(&'static str, Value),
    Refused(&'static str, Value),
    /// A number literal past 64 bits, which serde reads as a float (422),
    /// or past what a double holds, which `serde_json` cannot read at all and
    /// calls a syntax error (400).
    HugeNumber(&'static str, String),
    /// The body cut short (400).
    Truncated(Index),
    /// A control character or a byte that is not UTF-8 put into the body (400).
    StrayByte(Index, u8),
    /// A JSON body under another content type, or none (400).
    ContentType(Option<&'static str>),
    /// A JSON body past the limit (413).
    Oversized(usize),
    /// A malformed `Idempotency-Key` header (400).
    IdempotencyKey(Vec<u8>),
}

/// A member the service does not know, added to an object of the body.
#[derive(Clone, Debug)]
struct UnknownMember {
    within: &'static str,
    name: String,
    value: Value,
}

impl JsonEndpoint {
    fn requests(self) -> BoxedStrategy<BadRequest> {
        let flaws = self.flaws();
        let unknown = unknown_members(self.objects);
        let (path, base) = (self.path, self.base);
        (flaws, unknown)
            .prop_map(move |(flaw, unknown)| bad_body(path, &base, &flaw, &unknown))
            .boxed()
    }

    fn flaws(&self) -> BoxedStrategy<Flaw> {
        let pointers: Vec<_> = self.members.iter().map(|member| member.pointer).collect();
        let kinds: Vec<_> = (self.members.iter())
            .map(|member| (member.pointer, member.kind))
            .collect();
        let integers: Vec<_> = (self.members.iter())
            .filter(|member| matches!(member.kind, Kind::Integer))
            .map(|member| member.pointer)
            .collect();
        let refusals = self.members.iter().filter_map(|member| {
            let pointer = member.pointer;
            let refused = member.refused.clone()?;
            Some(
                refused
                    .prop_map(move |value| Flaw::Refused(pointer, value))
                    .boxed(),
            )
        });
        let mut flaws = vec![
            (1, not_an_object().prop_map(Flaw::NotAnObject).boxed()),
            (2, select(pointers).prop_map(Flaw::Missing).boxed()),
            (
                3,
                select(kinds)
                    .prop_flat_map(|(pointer, kind)| {
                        kind.other_than()
                            .prop_map(move |value| Flaw::WrongKind(pointer, value))
                    })
                    .boxed(),
            ),
            (5, Union::new(refusals).boxed()),
            (1, any::<Index>().prop_map(Flaw::Truncated).boxed()),
            (
                1,
                (any::<Index>(), stray_byte())
                    .prop_map(|(at, byte)| Flaw::StrayByte(at, byte))
                    .boxed(),
            ),
            (
                1,
                not_json_content_type().prop_map(Flaw::ContentType).boxed(),
            ),
            (
                1,
                (BODY_LIMIT + 1..BODY_LIMIT + 32 * 1024)
                    .prop_map(Flaw::Oversized)
                    .boxed(),
            ),
        ];
        if !integers.is_empty() {
            flaws.push((
                1,
                (select(integers), huge_number())
                    .prop_map(|(pointer, literal)| Flaw::HugeNumber(pointer, literal))
                    .boxed(),
            ));
        }
        if self.takes_idempotency_key {
            flaws.push((
                1,
                bad_idempotency_key().prop_map(Flaw::IdempotencyKey).boxed(),
            ));
        }
        Union::new_weighted(flaws).boxed()
    }
}

/// The request `flaw` makes of `base`, with the unknown members added.
fn bad_body(path: &str, base: &Value, flaw: &Flaw, unknown: &[UnknownMember]) -> BadRequest {
    let mut body = base.clone();
    // An unknown member is skipped unread, and a byte that is not UTF-8
    // inside one is skipped with it: a stray byte goes where it is read.
    let unknown = if matches!(flaw, Flaw::StrayByte(..)) {
        &[]
    } else {
        unknown
    };
    for member in unknown {
        if let Some(Value::Object(object)) = body.pointer_mut(member.within) {
            object.insert(member.name.clone(), member.value.clone());
        }
    }
    let mut request = BadRequest {
        method: Method::POST,
        path: path.to_owned(),
        content_type: Some("application/json"),
        idempotency_key: None,
        body: Vec::new(),
        expected: 422,
        flaw: match flaw {
            // The key is shown as the request's header.
            Flaw::IdempotencyKey(_) => "IdempotencyKey".to_owned(),
            _ => format!("{flaw:?}"),
        },
    };
    match flaw {
        Flaw::NotAnObject(value) => body = value.clone(),
        Flaw::Missing(pointer) => {
            let (parent, name) = pointer.rsplit_once('/').unwrap_or_default();
            if let Some(Value::Object(object)) = body.pointer_mut(parent) {
                object.remove(name);
            }
        }
        Flaw::WrongKind(pointer, value) | Flaw::Refused(pointer, value) => {
            set(&mut body, pointer, value.clone());
        }
        Flaw::HugeNumber(pointer, literal) => {
            set(&mut body, pointer, HUGE_NUMBER_PLACEHOLDER.into());
            let placeholder = Value::from(HUGE_NUMBER_PLACEHOLDER).to_string();
            request.body = body.to_string().replace(&placeholder, literal).into();
            let fits_a_double = literal.parse::<f64>().is_ok_and(f64::is_finite);
            request.expected = if fits_a_double { 422 } else { 400 };
            return request;
        }
        Flaw::Truncated(at) => {
            let json = body.to_string();
            request.body = json.as_bytes()[..at.index(json.len())].to_vec();
            request.expected = 400;
            return request;
        }
        Flaw::StrayByte(at, byte) => {
            let mut json = body.to_string().into_bytes();
            json.insert(at.index(json.len() + 1), *byte);
            request.body = json;
            request.expected = 400;
            return request;
        }
        Flaw::ContentType(content_type) => {
            request.content_type = *content_type;
            request.expected = 400;
        }
        Flaw::Oversized(length) => {
            set(&mut body, "/padding", "x".repeat(*length).into());
            request.expected = 413;
        }
        Flaw::IdempotencyKey(key) => {
            request.idempotency_key = Some(key.clone());
            request.expected = 400;
        }
    }
    request.body = body.to_string().into_bytes();
    request
}

/// Sets the member at `pointer`, which must exist or be a member of an
/// existing object.
fn set(body: &mut Value, pointer: &str, value: Value) {
    if let Some(slot) = body.pointer_mut(pointer) {
        *slot = value;
        return;
    }
    let (parent, name) = pointer.rsplit_once('/').unwrap_or_default();
    if let Some(Value::Object(object)) = body.pointer_mut(parent) {
        object.insert(name.to_owned(), value);
    }
}

/// A path id that is not the id of anything: arbitrary bytes, unicode and
/// control characters percent-encoded, with or without the id's prefix.
/// Every one is 404.
fn path_requests(route: &'static str, prefix: &'static str) -> BoxedStrategy<BadRequest> {
    let segment = prop_oneof![
        vec(any::<u8>(), 0..64),
        text().prop_map(String::into_bytes),
        "[A-Za-z0-9_]{1,80}".prop_map(String::into_bytes),
        "[0-9a-f]{32}".prop_map(String::into_bytes),
    ];
    (prop_oneof![Just(""), Just(prefix)], segment)
        .prop_map(move |(prefix, bytes)| {
            let segment = format!("{prefix}{}", percent_encoded(&bytes));
            BadRequest {
                method: Method::GET,
                path: format!("{route}{segment}"),
                content_type: None,
                idempotency_key: None,
                body: Vec::new(),
                expected: 404,
                flaw: format!("path id {segment}"),
            }
        })
        .boxed()
}

/// Every byte but ASCII letters, digits, `_` and `-` as `%XX`.
fn percent_encoded(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&byte| {
            if byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-' {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Values

/// A character no id holds: control characters (NUL included), other
/// unicode, ASCII punctuation and space.
fn stray_char() -> impl Strategy<Value = char> {
    prop_oneof![
        Just('\0'),
        proptest::char::range('\u{1}', '\u{1f}'),
        Just('\u{7f}'),
        proptest::char::range('\u{80}', '\u{9f}'),
        any::<char>().prop_filter("not ASCII", |c| !c.is_ascii()),
        select(
            " !\"#$%&'()*+,-./:;<=>?@[\\]^`{|}~"
                .chars()
                .collect::<Vec<_>>()
        ),
    ]
}

/// Text as a careless or hostile caller sends it: letters and digits mixed
/// with stray characters.
fn text() -> impl Strategy<Value = String> {
    let character = prop_oneof![
        stray_char(),
        proptest::char::range('a', 'z'),
        proptest::char::range('0', '9'),
    ];
    vec(character, 0..24).prop_map(String::from_iter)
}

/// Not an id with this prefix: empty, the prefix alone, another prefix, too
/// long, or with a character no id holds.
fn malformed_id(prefix: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just(format!("{prefix}_")),
        "[a-z]{1,3}_[a-z0-9]{1,12}".prop_filter("the right prefix", move |id| {
            !id.starts_with(&format!("{prefix}_"))
        }),
        "[a-z0-9]{61,100}".prop_map(move |tail| format!("{prefix}_{tail}")),
        (text(), stray_char(), text())
            .prop_map(move |(head, stray, tail)| format!("{prefix}_{head}{stray}{tail}")),
    ]
}

/// Not a product code: empty, no prefix, uppercase, too long, stray
/// characters.
fn malformed_sku() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-z]{1,10}",
        "sku_[A-Z]{1,10}",
        "sku_[a-z]{61,80}",
        (text(), stray_char(), text())
            .prop_map(|(head, stray, tail)| format!("sku_{head}{stray}{tail}")),
    ]
}

fn bad_quantity() -> impl Strategy<Value = i64> {
    prop_oneof![below(0), above(101)]
}

fn bad_month() -> impl Strategy<Value = i64> {
    prop_oneof![below(0), above(13)]
}

fn not_a_u16() -> impl Strategy<Value = i64> {
    prop_oneof![below(-1), above(65_536)]
}

/// `limit` and below: the edge, just past it, and far past it.
fn below(limit: i64) -> impl Strategy<Value = i64> {
    prop_oneof![Just(limit), limit - 100..=limit, i64::MIN..=limit]
}

/// `limit` and above.
fn above(limit: i64) -> impl Strategy<Value = i64> {
    prop_oneof![Just(limit), limit..=limit + 100, limit..=i64::MAX]
}

/// Not 12 to 19 digits; and where the service checks Luhn, 12 to 19
/// digits that fail it.
fn bad_card_number(checks_luhn: bool) -> BoxedStrategy<String> {
    let shapes = prop_oneof![
        "[0-9]{0,11}",
        "[0-9]{20,30}",
        ("[0-9]{4}", stray_char(), "[0-9]{4,11}")
            .prop_map(|(head, stray, tail)| format!("{head}{stray}{tail}")),
    ];
    if !checks_luhn {
        return shapes.boxed();
    }
    let failing_luhn = vec(0..10_u8, 12..=19).prop_map(|digits| {
        let mut number: Vec<u8> = digits.iter().map(|digit| b'0' + digit).collect();
        if passes_luhn(&number) {
            // One digit more in the unweighted place: the sum is off by one.
            let last = number.len() - 1;
            number[last] = b'0' + (number[last] - b'0' + 1) % 10;
        }
        String::from_utf8_lossy(&number).into_owned()
    });
    prop_oneof![shapes, failing_luhn].boxed()
}

fn bad_cvc() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{0,2}",
        "[0-9]{5,8}",
        ("[0-9]{1,2}", stray_char(), "[0-9]{0,2}")
            .prop_map(|(head, stray, tail)| format!("{head}{stray}{tail}")),
    ]
}

/// Number literals no member's type holds.
fn huge_number() -> impl Strategy<Value = String> {
    prop_oneof![
        "-?[1-9][0-9]{19,40}",
        "-?[1-9]e[4-9][0-9]{2}",
        "[1-9][0-9]{310,330}",
    ]
}

/// Bytes that make JSON unreadable wherever they go: control characters
/// other than JSON's whitespace, and bytes that are not UTF-8 on their own.
fn stray_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        0x00..=0x08_u8,
        Just(0x0b),
        Just(0x0c),
        0x0e..=0x1f_u8,
        0x80..=0xff_u8
    ]
}

fn not_json_content_type() -> impl Strategy<Value = Option<&'static str>> {
    select(vec![
        None,
        Some(""),
        Some("json"),
        Some("text/plain"),
        Some("text/json"),
        Some("application/xml"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
    ])
}

/// Not 1 to 255 visible ASCII characters: empty, too long, or with a space,
/// a tab or a byte past ASCII inside.
fn bad_idempotency_key() -> impl Strategy<Value = Vec<u8>> {
    let stray = prop_oneof![Just(b' '), Just(b'\t'), 0x80..=0xff_u8];
    prop_oneof![
        Just(Vec::new()),
        "[!-~]{256,4096}".prop_map(String::into_bytes),
        ("[!-~]{1,16}", stray, "[!-~]{1,16}").prop_map(|(head, stray, tail)| [
            head.as_bytes(),
            &[stray],
            tail.as_bytes()
        ]
        .concat()),
    ]
}

/// Any JSON value, nested up to three deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-1000_i64..1000).prop_map(Value::from),
        (-1e6_f64..1e6).prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            vec((text(), inner), 0..4)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

fn not_an_object() -> impl Strategy<Value = Value> {
    any_json().prop_filter("an object", |value| !value.is_object())
}

/// Up to three members no request type has (none of ours starts `x_`).
fn unknown_members(objects: &'static [&'static str]) -> impl Strategy<Value = Vec<UnknownMember>> {
    vec((select(objects), text(), any_json()), 0..3).prop_map(|members| {
        members
            .into_iter()
            .map(|(within, name, value)| UnknownMember {
                within,
                name: format!("x_{name}"),
                value,
            })
            .collect()
    })
}

/// The members the unknown-members test adds: what a newer client might
/// send, at the top, in an item and in the card.
fn add_unknown_members(body: &mut Value) {
    let additions = [
        (
            "",
            "shipping_address",
            json!({"city": "London", "lines": ["12 St James's Square"]}),
        ),
        ("", "coupon", json!(null)),
        ("/items/0", "gift_wrap", json!(true)),
        ("/card", "holder_name", json!("Ada Lovelace")),
    ];
    for (within, name, value) in additions {
        if let Some(Value::Object(object)) = body.pointer_mut(within) {
            object.insert(name.to_owned(), value);
        }
    }
}

/// Whether `bytes` hold a run of 12 to 19 digits that passes Luhn, other
/// than the contract's approved test card.
fn holds_card_number(bytes: &[u8]) -> bool {
    bytes.split(|byte| !byte.is_ascii_digit()).any(|run| {
        (12..=19).contains(&run.len()) && run != APPROVED_CARD.as_bytes() && passes_luhn(run)
    })
}

fn passes_luhn(digits: &[u8]) -> bool {
    let sum: u32 = (digits.iter().rev().enumerate())
        .map(|(place, digit)| {
            let digit = u32::from(digit - b'0');
            match (place % 2, digit * 2) {
                (0, _) => digit,
                (_, doubled) if doubled > 9 => doubled - 9,
                (_, doubled) => doubled,
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

// ---------------------------------------------------------------------------
// Sending

/// One generated request, and the status the contract gives it.
#[derive(Clone)]
struct BadRequest {
    method: Method,
    path: String,
    content_type: Option<&'static str>,
    idempotency_key: Option<Vec<u8>>,
    body: Vec<u8>,
    expected: u16,
    flaw: String,
}

impl BadRequest {
    fn holds_card_number(&self) -> bool {
        holds_card_number(&self.body)
            || holds_card_number(self.path.as_bytes())
            || self
                .idempotency_key
                .as_deref()
                .is_some_and(holds_card_number)
    }
}

impl std::fmt::Debug for BadRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BadRequest")
            .field("flaw", &shortened(&self.flaw))
            .field("method", &self.method)
            .field("path", &shortened(&self.path))
            .field("content_type", &self.content_type)
            .field(
                "idempotency_key",
                &(self.idempotency_key.as_deref())
                    .map(|key| shortened(&String::from_utf8_lossy(key))),
            )
            .field("body", &shortened(&String::from_utf8_lossy(&self.body)))
            .field("expected", &self.expected)
            .finish()
    }
}

/// Long enough to see what a value is, short enough to read a failure.
fn shortened(text: &str) -> String {
    const KEEP: usize = 400;
    match text.char_indices().nth(KEEP) {
        Some((end, _)) => format!("{}… ({} bytes)", &text[..end], text.len()),
        None => text.to_owned(),
    }
}

/// A service's answer, as the checks need it.
#[derive(Debug)]
struct Answer {
    status: u16,
    content_type: String,
    /// From `traceresponse`.
    trace_id: Option<String>,
    body: Vec<u8>,
}

/// What one endpoint's generated requests got.
struct Outcome {
    endpoint: Endpoint,
    requests: usize,
    server_errors: usize,
    failure: Option<String>,
}

/// Runs an endpoint's generated cases, on a blocking thread: proptest is
/// synchronous, so each request is sent through the suite's runtime.
fn probe(runtime: &Handle, endpoint: Endpoint, base: &str) -> Outcome {
    let client = e2e::http_client();
    let requests = AtomicUsize::new(0);
    let server_errors = AtomicUsize::new(0);
    let mut runner = TestRunner::new(Config {
        cases: endpoint.cases(),
        max_shrink_iters: MAX_SHRINK_ITERS,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&endpoint.requests(), |request| {
        let answer = runtime
            .block_on(send(&client, base, &request))
            .map_err(|error| TestCaseError::fail(format!("{request:?}: {error:#}")))?;
        requests.fetch_add(1, Ordering::Relaxed);
        if answer.status >= 500 {
            server_errors.fetch_add(1, Ordering::Relaxed);
        }
        check(&request, &answer)
    });
    Outcome {
        endpoint,
        requests: requests.into_inner(),
        server_errors: server_errors.into_inner(),
        failure: result.err().map(|error| error.to_string()),
    }
}

async fn send(
    client: &reqwest::Client,
    base: &str,
    request: &BadRequest,
) -> anyhow::Result<Answer> {
    let mut builder = client.request(request.method.clone(), format!("{base}{}", request.path));
    if let Some(content_type) = request.content_type {
        builder = builder.header("content-type", content_type);
    }
    if let Some(key) = &request.idempotency_key {
        builder = builder.header("idempotency-key", HeaderValue::from_bytes(key)?);
    }
    if !request.body.is_empty() || request.method == Method::POST {
        builder = builder.body(request.body.clone());
    }
    let response = tokio::time::timeout(ANSWER_TIMEOUT, builder.send())
        .await
        .context("no answer in time")??;
    let header = |name: &str| {
        (response.headers().get(name))
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = header("content-type").unwrap_or_default();
    let trace_id =
        header("traceresponse").and_then(|value| value.split('-').nth(1).map(str::to_owned));
    Ok(Answer {
        status: response.status().as_u16(),
        content_type,
        trace_id,
        body: response.bytes().await?.to_vec(),
    })
}

/// The contract's promise for every bad request: its status, as
/// problem+json with every member, naming the request's trace.
fn check(request: &BadRequest, answer: &Answer) -> Result<(), TestCaseError> {
    let body = String::from_utf8_lossy(&answer.body);
    prop_assert_eq!(
        answer.status,
        request.expected,
        "answered {}",
        shortened(&body)
    );
    prop_assert_eq!(
        answer.content_type.as_str(),
        "application/problem+json",
        "{}",
        shortened(&body)
    );
    let problem: Value = serde_json::from_slice(&answer.body)
        .map_err(|error| TestCaseError::fail(format!("not JSON ({error}): {body}")))?;
    for member in ["type", "title", "detail", "trace_id"] {
        prop_assert!(
            problem[member]
                .as_str()
                .is_some_and(|text| !text.is_empty()),
            "no {} in {}",
            member,
            problem
        );
    }
    prop_assert_eq!(&problem["status"], &json!(answer.status));
    prop_assert_eq!(problem["trace_id"].as_str(), answer.trace_id.as_deref());
    Ok(())
}

// ---------------------------------------------------------------------------
// Raw HTTP/1.1, for what reqwest would not send

/// What came back on a raw connection.
#[derive(Debug)]
struct RawAnswer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RawAnswer {
    fn content_type(&self) -> Option<&str> {
        (self.headers.iter())
            .find(|(name, _)| name == "content-type")
            .map(|(_, value)| value.as_str())
    }

    /// The answer, once its head and its `content-length` of body are in.
    fn parse(received: &[u8]) -> Option<Self> {
        let end = received
            .windows(4)
            .position(|window| window == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&received[..end]);
        let mut lines = head.split("\r\n");
        let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        let length = (headers.iter())
            .find(|(name, _)| name == "content-length")
            .and_then(|(_, value)| value.parse().ok())
            .unwrap_or(0);
        let body = received.get(end + 4..end + 4 + length)?.to_vec();
        Some(Self {
            status,
            headers,
            body,
        })
    }
}

fn address(suite: &Suite, service: Service) -> anyhow::Result<SocketAddr> {
    let url = reqwest::Url::parse(&suite.url(service))?;
    let host = url.host_str().context("no host")?;
    let port = url.port().context("no port")?;
    Ok(format!("{host}:{port}").parse()?)
}

/// Sends the head of a JSON request and the start of its body, then
/// stalls, or trickles a byte of JSON whitespace every 250 ms, never
/// finishing; returns the answer that came back.
fn slow_body(address: SocketAddr, path: &str, trickle: bool) -> anyhow::Result<RawAnswer> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_millis(250)))?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/json\r\n\
         content-length: 4096\r\n\r\n{{\"customer_id\":"
    )?;
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buffer = [0; 4096];
    while started.elapsed() < SLOW_BODY_VERDICT {
        if trickle {
            // Fails once the service has answered and closed: that is fine.
            let _ = stream.write_all(b" ");
        }
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => received.extend_from_slice(&buffer[..read]),
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(error) => return Err(error.into()),
        }
        if let Some(answer) = RawAnswer::parse(&received) {
            return Ok(answer);
        }
    }
    Err(anyhow!(
        "no answer after {:?}; received {:?}",
        started.elapsed(),
        String::from_utf8_lossy(&received)
    ))
}

/// Writes `request` on its own thread (the service may answer, and close,
/// before it has read it all) and reads the answer.
fn exchange(address: SocketAddr, request: &[u8]) -> anyhow::Result<RawAnswer> {
    let stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(ANSWER_TIMEOUT))?;
    let mut writer = stream.try_clone()?;
    std::thread::scope(|scope| {
        scope.spawn(move || {
            // Fails once the service has answered and closed: that is fine.
            let _ = writer.write_all(request);
        });
        let mut reader = &stream;
        let mut received = Vec::new();
        let mut buffer = [0; 4096];
        loop {
            if let Some(answer) = RawAnswer::parse(&received) {
                return Ok(answer);
            }
            let read = reader
                .read(&mut buffer)
                .with_context(|| format!("received {:?}", String::from_utf8_lossy(&received)))?;
            if read == 0 {
                return Err(anyhow!(
                    "closed without an answer; received {:?}",
                    String::from_utf8_lossy(&received)
                ));
            }
            received.extend_from_slice(&buffer[..read]);
        }
    })
}
