//! Metrics, the third signal: the conventions' instruments from every
//! service that must send them, named, typed and attributed as the
//! semantic conventions (v1.44) say; the suite's own; counted exactly; and
//! never an attribute from an unbounded set. The suite exports every 250 ms
//! (`OTEL_METRIC_EXPORT_INTERVAL`).

use std::{sync::Arc, time::Duration};

use e2e::{MetricKind, MetricPoint, Service, Suite, SuiteOptions, Temporality};

use crate::support::{APPROVED_CARD, EXPORT_TIMEOUT, checkout, post_checkout, post_checkout_with};

/// The conventions' advised boundaries for HTTP and messaging durations.
const REQUEST_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];
/// ... and for `db.client.operation.duration`.
const DB_BUCKETS: [f64; 9] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0];

/// One instrument as the contract describes it.
struct Expected {
    name: &'static str,
    unit: &'static str,
    kind: MetricKind,
    buckets: &'static [f64],
    services: &'static [Service],
    attributes: &'static [&'static str],
}

const HISTOGRAM: MetricKind = MetricKind::Histogram;
const COUNTER: MetricKind = MetricKind::Sum { monotonic: true };

const CONVENTIONS: [Expected; 5] = [
    Expected {
        name: "http.server.request.duration",
        unit: "s",
        kind: HISTOGRAM,
        buckets: &REQUEST_BUCKETS,
        services: &[
            Service::Gateway,
            Service::Users,
            Service::Orders,
            Service::Payments,
            Service::Notifications,
        ],
        attributes: &[
            "http.request.method",
            "http.route",
            "http.response.status_code",
            "url.scheme",
        ],
    },
    Expected {
        name: "http.client.request.duration",
        unit: "s",
        kind: HISTOGRAM,
        buckets: &REQUEST_BUCKETS,
        services: &[Service::Gateway, Service::Orders, Service::Payments],
        attributes: &[
            "http.request.method",
            "server.address",
            "server.port",
            "http.response.status_code",
        ],
    },
    Expected {
        name: "db.client.operation.duration",
        unit: "s",
        kind: HISTOGRAM,
        buckets: &DB_BUCKETS,
        services: &[
            Service::Users,
            Service::Orders,
            Service::Payments,
            Service::Notifications,
        ],
        attributes: &[
            "db.system.name",
            "db.namespace",
            "db.operation.name",
            "db.collection.name",
        ],
    },
    Expected {
        name: "messaging.client.sent.messages",
        unit: "{message}",
        kind: COUNTER,
        buckets: &[],
        services: &[Service::Orders],
        attributes: &[
            "messaging.system",
            "messaging.destination.name",
            "messaging.operation.name",
        ],
    },
    Expected {
        name: "messaging.process.duration",
        unit: "s",
        kind: HISTOGRAM,
        buckets: &REQUEST_BUCKETS,
        services: &[Service::Users],
        attributes: &[
            "messaging.system",
            "messaging.destination.name",
            "messaging.operation.name",
            "messaging.consumer.group.name",
        ],
    },
];

/// Waits until each service has sent each metric named, and returns the
/// points seen: each service exports on its own schedule.
async fn points_from(suite: &Suite, wanted: &[(Service, &str)]) -> Vec<MetricPoint> {
    suite
        .receiver()
        .wait_for_metrics(
            |points| {
                wanted.iter().all(|(service, name)| {
                    points
                        .iter()
                        .any(|point| point.service == service.name() && point.name == *name)
                })
            },
            EXPORT_TIMEOUT,
        )
        .await
}

/// Waits until a point satisfies `found`, and returns the points seen.
async fn points_until(suite: &Suite, found: impl Fn(&MetricPoint) -> bool) -> Vec<MetricPoint> {
    suite
        .receiver()
        .wait_for_metrics(|points| points.iter().any(&found), EXPORT_TIMEOUT)
        .await
}

pub async fn every_service_exports_the_conventions_instruments(
    suite: Arc<Suite>,
) -> anyhow::Result<()> {
    let reply = post_checkout(&suite, &checkout("cus_1001", "sku_mouse", 1, APPROVED_CARD)).await?;
    assert_eq!(reply.status, 201, "{:#}", reply.body);
    let wanted: Vec<(Service, &str)> = CONVENTIONS
        .iter()
        .flat_map(|expected| {
            expected
                .services
                .iter()
                .map(|service| (*service, expected.name))
        })
        .collect();
    let points = points_from(&suite, &wanted).await;
    for expected in &CONVENTIONS {
        for service in expected.services {
            let point = points
                .iter()
                .find(|point| point.name == expected.name && point.service == service.name())
                .unwrap_or_else(|| panic!("{service} sends no {}", expected.name));
            let what = format!("{service}'s {}", expected.name);
            assert_eq!(point.unit, expected.unit, "{what}");
            assert_eq!(point.kind, expected.kind, "{what}");
            assert_eq!(point.temporality, Temporality::Cumulative, "{what}");
            assert_eq!(
                point.bounds, expected.buckets,
                "{what}: the advised buckets"
            );
            assert_eq!(point.scope, "telemetry", "{what}");
            for key in expected.attributes {
                assert!(
                    point.attributes.contains_key(*key),
                    "{what} has no {key}: {point:?}"
                );
            }
            assert!(
                !point.attributes.contains_key("error.type"),
                "{what}: {point:?}"
            );
        }
    }
    Ok(())
}

pub async fn the_suites_own_metrics_arrive(suite: Arc<Suite>) -> anyhow::Result<()> {
    let body = checkout("cus_1002", "sku_mouse", 1, APPROVED_CARD);
    let key = [("idempotency-key", "metrics-replay-1")];
    for _ in 0..2 {
        let reply = post_checkout_with(&suite, &body, &key).await?;
        assert_eq!(reply.status, 201, "{:#}", reply.body);
    }
    let points = points_from(
        &suite,
        &[
            (Service::Gateway, "checkout.requests"),
            (Service::Orders, "order.idempotent_replays"),
            (Service::Orders, "order.outbox.unsent"),
        ],
    )
    .await;
    let find = |name: &str, service: Service| {
        points
            .iter()
            .find(|point| point.name == name && point.service == service.name())
            .unwrap_or_else(|| panic!("{service} sends no {name}"))
    };
    let checkouts = find("checkout.requests", Service::Gateway);
    assert_eq!(checkouts.kind, COUNTER);
    assert_eq!(checkouts.unit, "{request}");
    assert!(
        checkouts.str_attr("checkout.outcome").is_some(),
        "{checkouts:?}"
    );
    let replays = find("order.idempotent_replays", Service::Orders);
    assert_eq!(replays.kind, COUNTER);
    assert!(replays.value >= 1.0, "{replays:?}");
    let unsent = find("order.outbox.unsent", Service::Orders);
    assert_eq!(unsent.kind, MetricKind::Gauge);
    assert_eq!(unsent.unit, "{event}");
    Ok(())
}

/// The latest cumulative count of `POST /checkout` answered 201 by the
/// gateway, summed over its attribute sets.
fn confirmed_checkouts(points: &[MetricPoint]) -> u64 {
    let mut latest = std::collections::BTreeMap::new();
    for point in points.iter().filter(|point| {
        point.name == "http.server.request.duration"
            && point.service == "gateway"
            && point.str_attr("http.route") == Some("/checkout")
            && point.int_attr("http.response.status_code") == Some(201)
    }) {
        let key = format!("{:?}", point.attributes);
        let entry = latest.entry(key).or_insert((0, 0));
        if point.time_unix_nanos >= entry.0 {
            *entry = (point.time_unix_nanos, point.count);
        }
    }
    latest.values().map(|(_, count)| count).sum()
}

pub async fn n_checkouts_move_the_checkout_count_by_exactly_n(
    _shared: Arc<Suite>,
) -> anyhow::Result<()> {
    const CHECKOUTS: u64 = 7;
    // Its own suite: nobody else's checkouts count here.
    let suite = Suite::start(SuiteOptions::default()).await?;
    let first = post_checkout(&suite, &checkout("cus_1001", "sku_mouse", 1, APPROVED_CARD)).await?;
    assert_eq!(first.status, 201, "{:#}", first.body);
    let exported = suite
        .receiver()
        .wait_for_metrics(|points| confirmed_checkouts(points) >= 1, EXPORT_TIMEOUT)
        .await;
    let before = confirmed_checkouts(&exported);
    assert_eq!(before, 1, "the first checkout, once");

    for _ in 0..CHECKOUTS {
        let reply =
            post_checkout(&suite, &checkout("cus_1001", "sku_mouse", 1, APPROVED_CARD)).await?;
        assert_eq!(reply.status, 201, "{:#}", reply.body);
    }
    let seen = suite
        .receiver()
        .wait_for_metrics(
            |points| confirmed_checkouts(points) >= before + CHECKOUTS,
            EXPORT_TIMEOUT,
        )
        .await;
    assert_eq!(confirmed_checkouts(&seen), before + CHECKOUTS);
    // Several more exports: the count stays, nothing is counted twice.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        confirmed_checkouts(&suite.receiver().metrics()),
        before + CHECKOUTS
    );
    Ok(())
}

pub async fn failures_carry_error_type(suite: Arc<Suite>) -> anyhow::Result<()> {
    let body = checkout("cus_1001", "sku_mouse", 1, APPROVED_CARD);
    post_checkout_with(&suite, &body, &[("baggage", "fault.payments=error")]).await?;
    post_checkout_with(&suite, &body, &[("baggage", "fault.orders=db_error")]).await?;
    post_checkout_with(
        &suite,
        &body,
        &[
            ("request-timeout-ms", "1500"),
            ("baggage", "fault.orders=timeout"),
        ],
    )
    .await?;

    for (service, name, error_type) in [
        (Service::Payments, "http.server.request.duration", "500"),
        (Service::Orders, "db.client.operation.duration", "io"),
        (Service::Gateway, "http.client.request.duration", "timeout"),
    ] {
        let found = |point: &MetricPoint| {
            point.service == service.name()
                && point.name == name
                && point.str_attr("error.type") == Some(error_type)
        };
        let points = points_until(&suite, found).await;
        assert!(
            points.iter().any(found),
            "{service}'s {name} has no point with error.type={error_type}"
        );
    }
    Ok(())
}

/// Runs after every other test of the shared suite, over all it exported:
/// no attribute of any metric comes from an unbounded set.
pub fn no_metric_attribute_is_an_id_a_card_number_or_a_raw_path(suite: &Suite) {
    let points = suite.receiver().metrics();
    assert!(!points.is_empty(), "no metric arrived: nothing was checked");
    for point in &points {
        for (key, value) in &point.attributes {
            let text = value.to_string();
            let id = ["ord_", "pay_", "cus_", "ntf_", "evt_", "sku_"]
                .iter()
                .any(|prefix| text.contains(prefix));
            let digits = text
                .split(|c: char| !c.is_ascii_digit())
                .any(|run| run.len() >= 12);
            let raw_path =
                key == "http.route" && text.split('/').count() > 3 && !text.contains('{');
            assert!(
                !id && !digits && !raw_path,
                "{} of {}: {key}={text} is from an unbounded set",
                point.name,
                point.service
            );
        }
    }
}

pub async fn metrics_exporter_none_and_sdk_disabled_export_no_metrics(
    _shared: Arc<Suite>,
) -> anyhow::Result<()> {
    for (variable, value) in [
        ("OTEL_METRICS_EXPORTER", "none"),
        ("OTEL_SDK_DISABLED", "true"),
    ] {
        let suite = Suite::start(SuiteOptions::default().env(variable, value)).await?;
        let reply =
            post_checkout(&suite, &checkout("cus_1001", "sku_mouse", 1, APPROVED_CARD)).await?;
        assert_eq!(reply.status, 201, "{:#}", reply.body);
        // Many export intervals.
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(
            suite.receiver().metric_point_count(),
            0,
            "{variable}={value} exports no metric"
        );
        if variable == "OTEL_METRICS_EXPORTER" {
            assert!(
                !suite.receiver().trace(&reply.trace_id).is_empty(),
                "traces still go out"
            );
        }
    }
    Ok(())
}
