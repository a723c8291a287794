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

mod endpoints;
mod flaws;
mod raw_http;
mod sending;
mod values;

// What the sections give each other (they see this module's imports).
use endpoints::{Endpoint, JsonEndpoint, Kind};
use flaws::{UnknownMember, path_requests};
use raw_http::{address, exchange, slow_body};
use sending::{BadRequest, probe};
use values::{
    above, add_unknown_members, any_json, bad_card_number, bad_cvc, bad_idempotency_key, bad_month,
    bad_quantity, below, holds_card_number, huge_number, malformed_id, malformed_sku, not_a_u16,
    not_an_object, not_json_content_type, stray_byte, text, unknown_members,
};

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
