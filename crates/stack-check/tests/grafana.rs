//! `grafana/`: every datasource, dashboard and alert rule refers to things
//! that exist, at the addresses the compose file gives them.

#![allow(
    clippy::unwrap_used,
    reason = "a failed check is a panic with the reason in its message"
)]

use std::collections::BTreeSet;

use stack_check::{Json, Repo, Yaml, YamlExt};

const DATASOURCES: &str = "grafana/provisioning/datasources/datasources.yaml";

fn datasources() -> Yaml {
    Repo::default().yaml(DATASOURCES).unwrap()
}

fn datasource_uids() -> BTreeSet<String> {
    let datasources = datasources();
    let list = datasources
        .at("datasources")
        .and_then(Yaml::as_sequence)
        .unwrap();
    let uids: Vec<String> = list
        .iter()
        .filter_map(|source| source.str_at("uid").map(str::to_owned))
        .collect();
    assert_eq!(uids.len(), list.len(), "every datasource has a uid");
    let unique: BTreeSet<String> = uids.iter().cloned().collect();
    assert_eq!(unique.len(), uids.len(), "uids are unique: {uids:?}");
    unique
}

/// Every string value under a key named `key`, at any depth.
fn yaml_values_of(value: &Yaml, key: &str, found: &mut Vec<String>) {
    match value {
        Yaml::Mapping(mapping) => {
            for (name, inner) in mapping {
                if name.as_str() == Some(key)
                    && let Some(text) = inner.as_str()
                {
                    found.push(text.to_owned());
                }
                yaml_values_of(inner, key, found);
            }
        }
        Yaml::Sequence(items) => items
            .iter()
            .for_each(|item| yaml_values_of(item, key, found)),
        _ => {}
    }
}

fn json_values_of(value: &Json, key: &str, found: &mut Vec<Json>) {
    match value {
        Json::Object(object) => {
            for (name, inner) in object {
                if name == key {
                    found.push(inner.clone());
                }
                json_values_of(inner, key, found);
            }
        }
        Json::Array(items) => items
            .iter()
            .for_each(|item| json_values_of(item, key, found)),
        _ => {}
    }
}

#[test]
fn datasources_point_at_the_compose_services() {
    let datasources = datasources();
    let expected = [
        ("tempo", "tempo", "http://tempo:3200"),
        ("loki", "loki", "http://loki:3100"),
        ("prometheus", "prometheus", "http://prometheus:9090"),
    ];
    let list = datasources
        .at("datasources")
        .and_then(Yaml::as_sequence)
        .unwrap();
    for (uid, kind, url) in expected {
        let source = list
            .iter()
            .find(|source| source.str_at("uid") == Some(uid))
            .unwrap_or_else(|| panic!("no {uid}"));
        assert_eq!(source.str_at("type"), Some(kind));
        assert_eq!(source.str_at("url"), Some(url));
    }
    assert!(datasource_uids().contains("tempo"));
}

#[test]
fn every_link_between_datasources_resolves() {
    let uids = datasource_uids();
    let mut referenced = Vec::new();
    yaml_values_of(&datasources(), "datasourceUid", &mut referenced);
    assert!(
        referenced.len() >= 4,
        "traces→logs, traces→metrics, service map, logs→traces, exemplars→traces"
    );
    for uid in referenced {
        assert!(
            uids.contains(&uid),
            "{DATASOURCES} links to unknown datasource {uid}"
        );
    }
}

#[test]
fn template_variables_are_escaped_from_provisioning_interpolation() {
    // Grafana expands $VAR and ${VAR} in provisioning files from the
    // environment; a query's ${__trace.traceId} must be written $${...}.
    let repo = Repo::default();
    for file in repo.files_under("grafana/provisioning").unwrap() {
        let text = repo.text(&file).unwrap();
        for (number, line) in text.lines().enumerate() {
            let bytes = line.as_bytes();
            for (index, window) in bytes.windows(2).enumerate() {
                let escaped = index > 0 && bytes[index - 1] == b'$';
                if window == b"${" && !escaped && !line[index..].starts_with("${{") {
                    assert!(
                        line[..index].ends_with('$'),
                        "{file}:{}: unescaped ${{ in {line:?}",
                        number + 1
                    );
                }
            }
        }
    }
}

#[test]
fn the_dashboard_provider_loads_the_mounted_dashboards() {
    let repo = Repo::default();
    let compose = repo.compose().unwrap();
    let mounts = compose.strings_at("services.grafana.volumes");
    let mounted = mounts
        .iter()
        .find(|volume| volume.starts_with("./grafana/dashboards:"))
        .and_then(|volume| volume.split(':').nth(1))
        .unwrap();
    let providers = repo
        .yaml("grafana/provisioning/dashboards/dashboards.yaml")
        .unwrap();
    let paths: Vec<String> = providers
        .at("providers")
        .and_then(Yaml::as_sequence)
        .unwrap()
        .iter()
        .filter_map(|provider| provider.str_at("options.path").map(str::to_owned))
        .collect();
    assert!(
        paths.iter().any(|path| path == mounted),
        "providers {paths:?} do not load {mounted}"
    );

    let home = compose
        .str_at("services.grafana.environment.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
        .unwrap();
    let file = home.strip_prefix(&format!("{mounted}/")).unwrap();
    assert!(
        repo.path(&format!("grafana/dashboards/{file}")).exists(),
        "home dashboard {home}"
    );
}

#[test]
fn every_dashboard_panel_queries_a_provisioned_datasource() {
    let repo = Repo::default();
    let uids = datasource_uids();
    let dashboards = repo.files_under("grafana/dashboards").unwrap();
    assert!(!dashboards.is_empty());
    let mut dashboard_uids = BTreeSet::new();
    let is_json = |file: &&String| {
        std::path::Path::new(file.as_str())
            .extension()
            .is_some_and(|ext| ext.eq_ignore_ascii_case("json"))
    };
    for file in dashboards.iter().filter(is_json) {
        let dashboard = repo.json(file).unwrap();
        dashboard_uids.insert(dashboard["uid"].as_str().unwrap_or_default().to_owned());
        let mut references = Vec::new();
        json_values_of(&dashboard, "datasource", &mut references);
        assert!(!references.is_empty(), "{file} queries nothing");
        for reference in references {
            let uid = reference
                .get("uid")
                .and_then(Json::as_str)
                .unwrap_or_default();
            let builtin = uid.starts_with("-- ") || uid.starts_with("${") || uid.starts_with('$');
            assert!(
                builtin || uids.contains(uid),
                "{file}: unknown datasource {reference}"
            );
        }
    }
    assert!(
        dashboard_uids.contains("checkout"),
        "the Checkout dashboard"
    );
}

#[test]
fn alert_rules_query_provisioned_datasources_and_link_their_dashboard() {
    let repo = Repo::default();
    let uids = datasource_uids();
    let files = repo.files_under("grafana/provisioning/alerting").unwrap();
    let mut rules = 0;
    for file in files {
        let alerting = repo.yaml(&file).unwrap();
        for group in alerting
            .at("groups")
            .and_then(Yaml::as_sequence)
            .into_iter()
            .flatten()
        {
            for rule in group
                .at("rules")
                .and_then(Yaml::as_sequence)
                .into_iter()
                .flatten()
            {
                rules += 1;
                let data = rule.at("data").and_then(Yaml::as_sequence).unwrap();
                let ref_ids: Vec<&str> = data
                    .iter()
                    .filter_map(|query| query.str_at("refId"))
                    .collect();
                let condition = rule.str_at("condition").unwrap();
                assert!(
                    ref_ids.contains(&condition),
                    "{file}: condition {condition} is not a query"
                );
                for query in data {
                    let uid = query.str_at("datasourceUid").unwrap();
                    assert!(
                        uid == "__expr__" || uids.contains(uid),
                        "{file}: unknown datasource {uid}"
                    );
                }
                if let Some(dashboard) = rule.str_at("annotations.__dashboardUid__") {
                    assert_eq!(dashboard, "checkout", "{file}");
                }
            }
        }
    }
    assert!(rules >= 1, "the checkout p99 alert is provisioned");
}

/// The checkout alert's threshold sits on an edge of the Collector's
/// span-metrics buckets, so "p99 above it" is read off a bucket boundary
/// instead of being interpolated between two edges around it.
#[test]
fn the_latency_alert_threshold_is_a_span_metrics_bucket_edge() {
    let repo = Repo::default();
    let collector = repo.yaml("otel-collector-config.yaml").unwrap();
    let edges: Vec<f64> = collector
        .strings_at("connectors.span_metrics.histogram.explicit.buckets")
        .iter()
        .filter_map(|edge| {
            let seconds = |number: &str, scale: f64| number.parse::<f64>().ok().map(|n| n / scale);
            match edge.strip_suffix("ms") {
                Some(millis) => seconds(millis, 1000.0),
                None => seconds(edge.strip_suffix('s')?, 1.0),
            }
        })
        .collect();
    assert!(!edges.is_empty());
    let alerting = repo
        .yaml("grafana/provisioning/alerting/checkout-alerts.yaml")
        .unwrap();
    let sequence = |value: &Yaml, path: &str| {
        value
            .at(path)
            .and_then(Yaml::as_sequence)
            .cloned()
            .unwrap_or_default()
    };
    let thresholds: Vec<f64> = sequence(&alerting, "groups")
        .iter()
        .flat_map(|group| sequence(group, "rules"))
        .flat_map(|rule| sequence(&rule, "data"))
        .filter(|query| query.str_at("model.type") == Some("threshold"))
        .flat_map(|query| sequence(&query, "model.conditions"))
        .filter_map(|condition| {
            sequence(&condition, "evaluator.params")
                .first()
                .and_then(Yaml::as_f64)
        })
        .collect();
    assert!(!thresholds.is_empty());
    for threshold in thresholds {
        assert!(
            edges
                .iter()
                .any(|edge| (edge - threshold).abs() < f64::EPSILON),
            "{threshold} s is not one of {edges:?}"
        );
    }
}

/// `grafana/README.md` explains the service graph's node names by
/// `tempo.yaml`'s service-graphs `peer_attributes`: it quotes the list as
/// the file has it.
#[test]
fn the_grafana_readme_quotes_tempos_peer_attributes() {
    let repo = Repo::default();
    let tempo = repo.yaml("tempo.yaml").unwrap();
    let attributes = tempo.strings_at("metrics_generator.processor.service_graphs.peer_attributes");
    assert!(!attributes.is_empty());
    let quoted: Vec<String> = attributes.iter().map(|name| format!("`{name}`")).collect();
    let quoted = format!("({})", quoted.join(", "));
    let readme = repo.text("grafana/README.md").unwrap();
    assert!(
        readme
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .contains(&quoted),
        "grafana/README.md does not list {quoted}"
    );
}
