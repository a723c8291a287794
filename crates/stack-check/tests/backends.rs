//! `tempo.yaml`, `loki.yaml` and `prometheus.yaml`: the keys of the pinned
//! versions, and the links between them.

#![allow(
    clippy::unwrap_used,
    reason = "a failed check is a panic with the reason in its message"
)]

use stack_check::{Repo, YamlExt};

#[test]
fn tempo_has_no_key_that_tempo_3_removed() {
    let tempo = Repo::default().yaml("tempo.yaml").unwrap();
    for removed in [
        "ingester",
        "ingester_client",
        "compactor",
        "metrics_generator_client",
    ] {
        assert!(
            tempo.at(removed).is_none(),
            "{removed} stops Tempo 3 at start-up"
        );
    }
    assert!(tempo.at("metrics_generator.traces_storage").is_none());
    assert!(
        tempo.at("overrides.metrics_generator_processors").is_none(),
        "legacy flat overrides"
    );
    let processors = tempo.strings_at("overrides.defaults.metrics_generator.processors");
    assert!(
        !processors.iter().any(|name| name == "local-blocks"),
        "removed in 3.0"
    );
}

#[test]
fn tempo_receives_from_other_containers_and_writes_metrics_with_exemplars_to_prometheus() {
    let tempo = Repo::default().yaml("tempo.yaml").unwrap();
    for protocol in ["grpc", "http"] {
        let endpoint = tempo
            .str_at(&format!(
                "distributor.receivers.otlp.protocols.{protocol}.endpoint"
            ))
            .unwrap();
        assert!(
            endpoint.starts_with("0.0.0.0:"),
            "{protocol}: Tempo binds localhost by default"
        );
    }
    // The service graph only: span metrics are the Collectors'
    // (tests/span_metrics.rs).
    let processors = tempo.strings_at("overrides.defaults.metrics_generator.processors");
    assert_eq!(processors, ["service-graphs"]);
    let remote_write = tempo
        .at("metrics_generator.storage.remote_write")
        .and_then(|value| value.as_sequence())
        .unwrap();
    assert_eq!(
        remote_write[0].str_at("url"),
        Some("http://prometheus:9090/api/v1/write")
    );
    assert_eq!(
        remote_write[0]
            .at("send_exemplars")
            .and_then(stack_check::Yaml::as_bool),
        Some(true)
    );
    assert_eq!(
        tempo
            .at("server.http_listen_port")
            .and_then(stack_check::Yaml::as_u64),
        Some(3200)
    );
}

#[test]
fn span_metrics_tell_the_load_generators_traffic_apart() {
    // The Collector's span metrics (Tempo makes none: tests/span_metrics.rs).
    let collector = Repo::default().yaml("otel-collector-config.yaml").unwrap();
    let dimensions: Vec<&str> = collector
        .at("connectors.span_metrics.dimensions")
        .and_then(stack_check::Yaml::as_sequence)
        .unwrap()
        .iter()
        .filter_map(|dimension| dimension.str_at("name"))
        .collect();
    // The attribute every service's server span gets from the load
    // generator's `synthetic_request=true` baggage (telemetry::http_server).
    assert_eq!(dimensions, ["app.synthetic_request"]);
}

#[test]
fn prometheus_accepts_remote_write_and_exemplars() {
    let compose = Repo::default().compose().unwrap();
    let flags = compose.strings_at("services.prometheus.command");
    assert!(
        flags
            .iter()
            .any(|flag| flag == "--web.enable-remote-write-receiver")
    );
    assert!(
        flags
            .iter()
            .any(|flag| flag == "--enable-feature=exemplar-storage")
    );
    assert!(
        flags
            .iter()
            .any(|flag| flag == "--config.file=/etc/prometheus/prometheus.yaml")
    );

    let prometheus = Repo::default().yaml("prometheus.yaml").unwrap();
    let services = compose.keys_at("services");
    for job in prometheus
        .at("scrape_configs")
        .and_then(|value| value.as_sequence())
        .unwrap()
    {
        for target in job
            .at("static_configs")
            .and_then(|value| value.as_sequence())
            .unwrap()
        {
            for address in target.strings_at("targets") {
                let host = address.split(':').next().unwrap_or_default();
                assert!(
                    host == "localhost" || services.iter().any(|service| service == host),
                    "{address}"
                );
            }
        }
    }
}

#[test]
fn loki_keeps_trace_ids_as_structured_metadata() {
    let loki = Repo::default().yaml("loki.yaml").unwrap();
    assert_eq!(
        loki.at("auth_enabled").and_then(stack_check::Yaml::as_bool),
        Some(false)
    );
    assert_eq!(
        loki.at("limits_config.allow_structured_metadata")
            .and_then(stack_check::Yaml::as_bool),
        Some(true)
    );
    let schema = &loki
        .at("schema_config.configs")
        .and_then(|value| value.as_sequence())
        .unwrap()[0];
    assert_eq!(schema.str_at("schema"), Some("v13"));
    assert_eq!(schema.str_at("store"), Some("tsdb"));
    assert_eq!(
        loki.at("server.http_listen_port")
            .and_then(stack_check::Yaml::as_u64),
        Some(3100)
    );
}

/// Hours in a duration such as `48h` or `2d`.
fn hours(duration: &str) -> u64 {
    let (number, unit) = duration.split_at(duration.len() - 1);
    let number: u64 = number.parse().unwrap();
    match unit {
        "h" => number,
        "d" => number * 24,
        _ => panic!("{duration}: expected hours or days"),
    }
}

/// A trace links to its logs and its metrics: if one backend forgets
/// sooner than another, the links die. Tempo's own default is 14 days,
/// Loki keeps everything unless told. Metrics may stay longer: the SLO
/// rules read 3 days back (`tests/rules.rs` holds the retention to that).
#[test]
fn traces_and_logs_are_kept_equally_long_and_metrics_no_shorter() {
    let repo = Repo::default();
    let tempo = repo.yaml("tempo.yaml").unwrap();
    let loki = repo.yaml("loki.yaml").unwrap();
    let prometheus = repo.yaml("prometheus.yaml").unwrap();
    let traces = hours(
        tempo
            .str_at("backend_worker.compaction.block_retention")
            .unwrap(),
    );
    let logs = hours(loki.str_at("limits_config.retention_period").unwrap());
    assert_eq!(
        loki.at("compactor.retention_enabled")
            .and_then(stack_check::Yaml::as_bool),
        Some(true)
    );
    let metrics = hours(prometheus.str_at("storage.tsdb.retention.time").unwrap());
    assert_eq!(traces, logs, "Tempo, Loki");
    assert!(
        metrics >= traces,
        "Prometheus keeps {metrics} h, Tempo {traces} h"
    );
    // Prometheus deprecates the flag for the config key (since 3.8).
    let compose = repo.compose().unwrap();
    assert!(
        !compose
            .strings_at("services.prometheus.command")
            .iter()
            .any(|flag| flag.starts_with("--storage.tsdb.retention")),
        "retention belongs in prometheus.yaml"
    );
}

/// The arguments of the shell command on the first line containing
/// `command`, up to the end of the command (`\\` continuation or `&&`).
fn arguments_of(dockerfile: &str, command: &str) -> Vec<String> {
    let line = dockerfile
        .lines()
        .find(|line| line.contains(command))
        .unwrap_or_else(|| panic!("no `{command}`"));
    let (_, rest) = line.split_once(command).unwrap();
    rest.split_whitespace()
        .take_while(|word| !["\\", "&&"].contains(word))
        .map(str::to_owned)
        .collect()
}

/// cargo-chef's cook must build the dependencies the final build uses, or
/// the dependency layer never caches: cargo resolves features over the
/// packages it is asked for, so both commands take the same packages,
/// profile and flags (the cook also takes its recipe).
#[test]
fn the_dockerfile_cooks_what_it_builds() {
    let dockerfile = Repo::default().text("Dockerfile").unwrap();
    let mut cook = arguments_of(&dockerfile, "cargo chef cook");
    let recipe = cook
        .iter()
        .position(|word| word == "--recipe-path")
        .unwrap();
    cook.drain(recipe..=recipe + 1);
    let build = arguments_of(&dockerfile, "cargo build");
    assert!(
        build.iter().any(|word| word == "${PACKAGES}"),
        "the build takes the packages: {build:?}"
    );
    let sorted = |mut words: Vec<String>| {
        words.sort();
        words
    };
    assert_eq!(sorted(cook), sorted(build));
    let packages = dockerfile
        .lines()
        .find_map(|line| line.strip_prefix("ARG PACKAGES="))
        .unwrap();
    assert!(packages.contains("-p "), "{packages}");
}
