//! `run` against a stand-in gateway on loopback: pacing, limits, stops, and
//! what every request carries.

#![expect(
    clippy::unwrap_used,
    reason = "the stand-in's helpers too: a failure is a panic naming its cause"
)]

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use loadgen::{Limit, Load, Mix, Outcome, Summary, Weights};
use tokio::net::TcpListener;
use tokio::time::Instant;
use url::Url;

/// How long the slow stand-in takes for each checkout, one at a time: it
/// serves 50 a second at most.
const SERVICE_TIME: Duration = Duration::from_millis(20);

/// A stand-in gateway answering `POST /checkout` with `router`'s handler.
async fn gateway(router: Router) -> Url {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Url::parse(&format!("http://{address}")).unwrap()
}

/// Serves one checkout at a time, each taking `SERVICE_TIME`: each answer
/// goes out `SERVICE_TIME` after the one before it, or after its request
/// came if nothing was queued.
async fn slow_gateway() -> Url {
    let busy_until = Arc::new(Mutex::new(Instant::now()));
    gateway(Router::new().route(
        "/checkout",
        post(move || {
            let done = {
                let mut busy_until = busy_until.lock().unwrap_or_else(PoisonError::into_inner);
                *busy_until = (*busy_until).max(Instant::now()) + SERVICE_TIME;
                *busy_until
            };
            async move {
                tokio::time::sleep_until(done).await;
                StatusCode::CREATED
            }
        }),
    ))
    .await
}

async fn run(gateway: &Url, load: Load, limit: Limit) -> Summary {
    run_until(gateway, load, limit, std::future::pending()).await
}

async fn run_until(
    gateway: &Url,
    load: Load,
    limit: Limit,
    stop: impl Future<Output = ()>,
) -> Summary {
    let client = loadgen::http_client().unwrap();
    let mut mix = Mix::new(Weights::default(), 1);
    loadgen::run(&client, gateway, load, limit, &mut mix, |_| {}, stop).await
}

#[tokio::test]
async fn an_open_loop_counts_the_queue_a_slow_gateway_builds() {
    let gateway = slow_gateway().await;
    // Four times what the stand-in serves: request i is due at 5i ms and
    // answered at about 20(i + 1) ms, so the last waits about 600 ms.
    let summary = run(&gateway, Load::open(200.0), Limit::Count(40)).await;
    assert_eq!(summary.count(Outcome::Status(201)), 40, "{summary}");
    assert!(
        summary.latency(0.99) > SERVICE_TIME * 15,
        "p99 must hold the time queued behind the schedule:\n{summary}"
    );

    // The same gateway at one request at a time: only the service time.
    let closed = run(&gateway, Load::Closed { workers: 1 }, Limit::Count(10)).await;
    assert!(
        closed.latency(0.99) < SERVICE_TIME * 10,
        "a closed loop sees no queue:\n{closed}"
    );
}

#[tokio::test]
async fn past_the_in_flight_cap_requests_wait_and_still_count_from_their_schedule() {
    let gateway = slow_gateway().await;
    let load = Load::Open {
        rate_per_second: 500.0,
        max_in_flight: 2,
    };
    let summary = run(&gateway, load, Limit::Count(10)).await;
    assert_eq!(summary.requests(), 10);
    assert!(summary.held_back() > 0, "{summary}");
    // The last was due at 18 ms and answered at about 200 ms.
    assert!(summary.max() > SERVICE_TIME * 7, "{summary}");
}

#[tokio::test]
async fn a_duration_limit_sends_what_is_due_before_it() {
    let gateway =
        gateway(Router::new().route("/checkout", post(|| async { StatusCode::CREATED }))).await;
    let summary = run(
        &gateway,
        Load::open(100.0),
        Limit::Duration(Duration::from_millis(200)),
    )
    .await;
    assert_eq!(summary.requests(), 20, "due at 0, 10, ..., 190 ms");

    let closed = run(
        &gateway,
        Load::Closed { workers: 2 },
        Limit::Duration(Duration::from_millis(200)),
    )
    .await;
    assert!(closed.requests() > 0);
    assert!(
        closed.elapsed() >= Duration::from_millis(200) && closed.elapsed() < Duration::from_secs(2),
        "{closed}"
    );
}

#[tokio::test]
async fn a_stop_ends_the_run_and_counts_what_was_in_flight() {
    let hung =
        gateway(Router::new().route("/checkout", post(std::future::pending::<StatusCode>))).await;
    let stop = tokio::time::sleep(Duration::from_millis(100));
    let summary = run_until(
        &hung,
        Load::Closed { workers: 3 },
        Limit::UntilStopped,
        stop,
    )
    .await;
    assert!(summary.stopped());
    assert_eq!((summary.requests(), summary.abandoned()), (0, 3));
    assert!(summary.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_gateway_that_is_not_there_gets_no_answer_counted() {
    let closed_port = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    let gateway = Url::parse(&format!("http://{closed_port}")).unwrap();
    let summary = run(&gateway, Load::Closed { workers: 2 }, Limit::Count(5)).await;
    assert_eq!(summary.count(Outcome::NoAnswer), 5);
    assert_eq!((summary.answered(), summary.errors()), (0, 5));
}

#[tokio::test]
async fn every_request_is_marked_synthetic_and_carries_its_key() {
    let received: Arc<Mutex<Vec<HeaderMap>>> = Arc::default();
    let recorder = Arc::clone(&received);
    let gateway = gateway(Router::new().route(
        "/checkout",
        post(move |headers: HeaderMap, body: String| async move {
            serde_json::from_str::<serde_json::Value>(&body).unwrap();
            recorder
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(headers);
            StatusCode::CREATED
        }),
    ))
    .await;
    let summary = run(&gateway, Load::Closed { workers: 2 }, Limit::Count(5)).await;
    assert_eq!(summary.count(Outcome::Status(201)), 5, "{summary}");
    let received = received.lock().unwrap_or_else(PoisonError::into_inner);
    for headers in received.iter() {
        let header = |name: &str| headers.get(name).unwrap().to_str().unwrap();
        assert_eq!(header("user-agent"), loadgen::USER_AGENT);
        assert!(header("user-agent").starts_with("loadgen/"));
        assert_eq!(header("baggage"), "synthetic_request=true");
        assert_eq!(header("content-type"), "application/json");
        assert!(header("idempotency-key").starts_with("loadgen-"));
    }
}
