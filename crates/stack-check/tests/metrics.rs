//! The services' own metrics through the stack: the Collector sends them
//! to Prometheus's OTLP receiver, and every dashboard panel and SLO rule
//! asks for a name Prometheus will really give them. A wrong name is an
//! empty panel nobody notices, so the names are derived here from the
//! suite's registry (`semconv/`) with Prometheus 3's default translation
//! (`UnderscoreEscapingWithSuffixes`: dots to underscores, the unit's
//! suffix, `_total` for counters, `_bucket`/`_count`/`_sum` for
//! histograms), and every name a query uses must be one of them.

#![allow(
    clippy::unwrap_used,
    reason = "a failed check is a panic with the reason in its message"
)]

use std::collections::BTreeSet;

use regex::Regex;
use semconv_registry::{GroupKind, Registry};
use stack_check::{Json, Repo, YamlExt};

/// The series names Prometheus makes of one OTLP metric.
fn prometheus_names(name: &str, unit: &str, instrument: &str) -> Vec<String> {
    let base = name.replace('.', "_");
    // Annotations in braces (`{request}`) add no suffix; seconds do.
    let unit = match unit {
        "s" => "_seconds",
        "By" => "_bytes",
        _ => "",
    };
    match instrument {
        "histogram" => ["_bucket", "_count", "_sum"]
            .iter()
            .map(|suffix| format!("{base}{unit}{suffix}"))
            .collect(),
        "counter" => vec![format!("{base}{unit}_total")],
        _ => vec![format!("{base}{unit}")],
    }
}

/// Every series name the suite's metrics become, and every label.
fn translated() -> (BTreeSet<String>, BTreeSet<String>) {
    let registry = Registry::load(&semconv_registry::suite_registry()).unwrap();
    let mut names = BTreeSet::new();
    let mut labels: BTreeSet<String> = ["le", "job", "instance", "service_name"]
        .map(str::to_owned)
        .into();
    for metric in registry.of_kind(GroupKind::Metric) {
        names.extend(prometheus_names(
            metric.metric_name.as_deref().unwrap(),
            metric.unit.as_deref().unwrap_or_default(),
            metric.instrument.as_deref().unwrap_or_default(),
        ));
        labels.extend(
            metric
                .attributes
                .iter()
                .map(|entry| entry.key().replace('.', "_")),
        );
    }
    (names, labels)
}

/// The `PromQL` of every dashboard panel and every rule file.
fn queries() -> Vec<String> {
    let repo = Repo::default();
    let mut queries = Vec::new();
    for file in repo.files_under("grafana/dashboards").unwrap() {
        let dashboard: Json = repo.json(&file).unwrap();
        for panel in dashboard["panels"].as_array().unwrap() {
            for target in panel["targets"].as_array().into_iter().flatten() {
                if let Some(expr) = target["expr"].as_str() {
                    queries.push(expr.to_owned());
                }
            }
        }
    }
    for file in stack_check::queries::rule_files(&repo).unwrap() {
        let rules = repo.yaml(&file).unwrap();
        for group in rules
            .at("groups")
            .and_then(|groups| groups.as_sequence())
            .unwrap()
        {
            for rule in group
                .at("rules")
                .and_then(|rules| rules.as_sequence())
                .unwrap()
            {
                queries.push(rule.str_at("expr").unwrap().to_owned());
            }
        }
    }
    queries
}

/// The names of the metrics the suite's services export: the conventions'
/// namespaces and the suite's own.
fn is_the_suites(name: &str) -> bool {
    [
        "http_",
        "db_",
        "messaging_",
        "checkout_",
        "order_",
        "payment_",
    ]
    .iter()
    .any(|prefix| name.starts_with(prefix))
}

#[test]
fn every_query_asks_for_a_series_prometheus_makes_of_the_suites_metrics() {
    let (names, labels) = translated();
    let selector = Regex::new(r"\b([a-z_][a-z0-9_]*)\s*\{([^}]*)\}").unwrap();
    let bare = Regex::new(r"\b([a-z_][a-z0-9_:]*)\b").unwrap();
    let label = Regex::new(r"([a-z_][a-z0-9_]*)\s*(=~|!~|!=|=)").unwrap();
    let mut used = 0;
    for query in queries() {
        for name in bare.captures_iter(&query).map(|found| found[1].to_owned()) {
            // Label names (`http_route` in a `by`) look like series names.
            if is_the_suites(&name) && !labels.contains(&name) {
                assert!(
                    names.contains(&name),
                    "{name} is no series of the suite's metrics: {query}"
                );
                used += 1;
            }
        }
        for found in selector.captures_iter(&query) {
            if !is_the_suites(&found[1]) {
                continue;
            }
            for matcher in label.captures_iter(&found[2]) {
                assert!(
                    labels.contains(&matcher[1]),
                    "{} has no label {}: {query}",
                    &found[1],
                    &matcher[1]
                );
            }
        }
    }
    assert!(used > 0, "no query uses the suite's own metrics");
}

#[test]
fn the_collector_sends_metrics_to_prometheus_otlp_receiver() {
    let repo = Repo::default();
    let collector = repo.yaml("otel-collector-config.yaml").unwrap();
    let [exporter] = collector
        .strings_at("service.pipelines.metrics.exporters")
        .try_into()
        .unwrap();
    assert!(exporter.starts_with("otlp_http/"), "{exporter}");
    // The exporter appends /v1/metrics: Prometheus serves /api/v1/otlp/v1/metrics.
    assert_eq!(
        collector.str_at(&format!("exporters.{exporter}.endpoint")),
        Some("http://prometheus:9090/api/v1/otlp")
    );
    let processors = collector.strings_at("service.pipelines.metrics.processors");
    assert_eq!(
        processors.first().map(String::as_str),
        Some("memory_limiter")
    );

    let compose = repo.compose().unwrap();
    let flags = compose.strings_at("services.prometheus.command");
    assert!(
        flags
            .iter()
            .any(|flag| flag == "--web.enable-otlp-receiver"),
        "{flags:?}"
    );
    let prometheus = repo.yaml("prometheus.yaml").unwrap();
    assert!(
        prometheus
            .strings_at("otlp.promote_resource_attributes")
            .contains(&"service.name".to_owned()),
        "service_name is the label every panel groups by"
    );
}

#[test]
fn prometheus_loads_the_slo_rules_it_is_given() {
    let repo = Repo::default();
    let prometheus = repo.yaml("prometheus.yaml").unwrap();
    let [pattern] = prometheus.strings_at("rule_files").try_into().unwrap();
    let compose = repo.compose().unwrap();
    let mounted = compose
        .strings_at("services.prometheus.volumes")
        .into_iter()
        .find(|volume| volume.starts_with("./prometheus-rules:"))
        .unwrap();
    let target = mounted.split(':').nth(1).unwrap();
    assert_eq!(pattern, format!("{target}/*.yaml"));
    assert!(!repo.files_under("prometheus-rules").unwrap().is_empty());

    // Every alert burns the budget on two windows, the SRE workbook's way.
    let rules = repo.yaml("prometheus-rules/checkout-slo.yaml").unwrap();
    let alerts: Vec<_> = rules
        .at("groups")
        .and_then(|groups| groups.as_sequence())
        .unwrap()
        .iter()
        .flat_map(|group| {
            group
                .at("rules")
                .and_then(|rules| rules.as_sequence())
                .unwrap()
        })
        .filter(|rule| rule.str_at("alert").is_some())
        .collect();
    assert_eq!(
        alerts.len(),
        4,
        "fast and slow burn, availability and latency"
    );
    for alert in alerts {
        let expr = alert.str_at("expr").unwrap();
        assert_eq!(expr.matches(" and ").count(), 2, "two window pairs: {expr}");
        assert!(alert.str_at("labels.severity").is_some());
    }
}

/// How often each series a query reads gets a new sample, in seconds, by
/// the name's source: the services' SDKs (`OTEL_METRIC_EXPORT_INTERVAL`,
/// the same for every service in compose and, by `tests/kubernetes.rs`, on
/// Kubernetes; the contract's default 60 s where unset), the Collectors'
/// span metrics connector (`metrics_flush_interval`), Tempo's metrics
/// generator (its 15 s collection interval), the Collectors' own metrics.
fn sample_interval(name: &str) -> Option<u64> {
    let repo = Repo::default();
    let flush = |file: &str| {
        let config = repo.yaml(file).unwrap();
        (config.keys_at("connectors").iter())
            .filter_map(|id| config.str_at(&format!("connectors.{id}.metrics_flush_interval")))
            .filter_map(stack_check::queries::seconds)
            .max()
    };
    if name.starts_with("traces_span_metrics_") {
        return ["otel-collector-config.yaml", "deploy/collector/agent.yaml"]
            .iter()
            .filter_map(|file| flush(file))
            .max();
    }
    if name.starts_with("traces_spanmetrics_") || name.starts_with("traces_service_graph_") {
        let tempo = repo.yaml("tempo.yaml").unwrap();
        let interval = tempo.str_at("metrics_generator.registry.collection_interval");
        return Some(
            interval
                .and_then(stack_check::queries::seconds)
                .unwrap_or(15),
        );
    }
    if is_the_suites(name) {
        let compose = repo.compose().unwrap();
        let intervals: BTreeSet<u64> = stack_check::RUST_SERVICES
            .iter()
            .filter(|(service, _, _)| {
                compose
                    .at(&format!(
                        "services.{service}.environment.OTEL_EXPORTER_OTLP_ENDPOINT"
                    ))
                    .is_some()
            })
            .map(|(service, _, _)| {
                let variable =
                    format!("services.{service}.environment.OTEL_METRIC_EXPORT_INTERVAL");
                compose
                    .str_at(&variable)
                    .map_or(60, |ms| ms.parse::<u64>().unwrap() / 1000)
            })
            .collect();
        return intervals.into_iter().max();
    }
    None
}

/// `rate()` needs two samples in its window, and a window that holds only
/// two is empty between them whenever one push is late: a panel whose
/// `$__rate_interval` (Grafana: max(interval + scrape, 4 x scrape), with
/// the data source's `timeInterval` as the scrape interval) spans less
/// than four pushes of what it reads shows "No data" or gaps.
#[test]
fn every_rate_window_holds_four_samples_of_what_it_reads() {
    let repo = Repo::default();
    let intervals = stack_check::queries::Intervals::of_the_stack(&repo).unwrap();
    let names = Regex::new(r"\b([a-z_][a-z0-9_]*)\s*[{\[]").unwrap();
    // One line per query and name (a name can appear twice in one query).
    let mut short = BTreeSet::new();
    for query in stack_check::queries::all(&repo).unwrap() {
        let windows = stack_check::queries::windows(&query.expr);
        let Some(window) = windows
            .iter()
            .map(|window| match window.as_str() {
                "$__rate_interval" => Some(intervals.rate_interval),
                "$__interval" => Some(intervals.interval),
                fixed => stack_check::queries::seconds(fixed),
            })
            .min()
            .flatten()
        else {
            continue;
        };
        for name in names
            .captures_iter(&query.expr)
            .map(|found| found[1].to_owned())
        {
            if let Some(every) = sample_interval(&name)
                && window < 4 * every
            {
                short.insert(format!(
                    "{}: a {window} s window over {name}, pushed every {every} s",
                    query.origin
                ));
            }
        }
    }
    assert!(
        short.is_empty(),
        "windows shorter than four samples:\n{}",
        short.into_iter().collect::<Vec<_>>().join("\n")
    );
}
