//! `otel-collector-config.yaml`: every pipeline resolves, goes where the
//! stack expects, and scrubs card numbers.

#![allow(
    clippy::unwrap_used,
    reason = "a failed check is a panic with the reason in its message"
)]

use regex::Regex;
use stack_check::{Repo, Yaml, YamlExt};

fn collector() -> Yaml {
    Repo::default().yaml("otel-collector-config.yaml").unwrap()
}

/// Every component a pipeline names is defined, and every one defined is
/// used (`stack_check::collector`, shared with `tests/sampling.rs`).
#[test]
fn every_pipeline_component_is_defined_and_used() {
    assert_eq!(
        stack_check::collector::pipeline_problems(&collector()),
        Vec::<String>::new()
    );
}

#[test]
fn memory_limiter_comes_first_and_card_numbers_are_redacted_in_traces_and_logs() {
    let config = collector();
    for pipeline in ["traces", "logs"] {
        let processors = config.strings_at(&format!("service.pipelines.{pipeline}.processors"));
        assert_eq!(
            processors.first().map(String::as_str),
            Some("memory_limiter"),
            "{pipeline}"
        );
        assert!(
            processors
                .iter()
                .any(|name| name.starts_with("transform/redact")),
            "{pipeline}"
        );
    }
}

#[test]
fn receivers_listen_on_all_interfaces_on_the_standard_ports() {
    let config = collector();
    assert_eq!(
        config.str_at("receivers.otlp.protocols.grpc.endpoint"),
        Some("0.0.0.0:4317")
    );
    assert_eq!(
        config.str_at("receivers.otlp.protocols.http.endpoint"),
        Some("0.0.0.0:4318")
    );
}

#[test]
fn traces_go_to_tempo_and_logs_to_lokis_otlp_endpoint() {
    let config = collector();
    let exporters =
        |pipeline: &str| config.strings_at(&format!("service.pipelines.{pipeline}.exporters"));
    let tempo = Repo::default().yaml("tempo.yaml").unwrap();
    let tempo_grpc = tempo
        .str_at("distributor.receivers.otlp.protocols.grpc.endpoint")
        .unwrap();
    let tempo_port = tempo_grpc.rsplit(':').next().unwrap();

    // Beside Tempo, the span metrics connector (tests/span_metrics.rs).
    let traces: Vec<String> = exporters("traces")
        .into_iter()
        .filter(|id| !id.starts_with("span_metrics"))
        .collect();
    let [traces] = traces.try_into().unwrap();
    assert!(
        traces.starts_with("otlp_grpc/"),
        "{traces}: the current name of the gRPC exporter"
    );
    assert_eq!(
        config.str_at(&format!("exporters.{traces}.endpoint")),
        Some(format!("tempo:{tempo_port}").as_str())
    );

    let [logs] = exporters("logs").try_into().unwrap();
    assert!(
        logs.starts_with("otlp_http/"),
        "{logs}: the current name of the HTTP exporter"
    );
    assert_eq!(
        config.str_at(&format!("exporters.{logs}.endpoint")),
        Some("http://loki:3100/otlp")
    );
}

#[test]
fn no_deprecated_component_names() {
    let config = collector();
    for exporter in config.keys_at("exporters") {
        let kind = exporter.split('/').next().unwrap_or_default();
        assert!(
            !["otlp", "otlphttp", "loki", "logging"].contains(&kind),
            "{exporter} is deprecated"
        );
    }
}

/// One group of transform statements as the processor runs it: the
/// `context` it names, if any, and its statements.
struct Group {
    context: Option<String>,
    statements: Vec<String>,
}

/// The statement groups of every `transform/redact*` processor, as the
/// processor makes them: a group per `context:` entry, and the flat style
/// (plain strings in the list) all in one group with no context
/// (upstream: `processor/transformprocessor/config.go`, `Unmarshal`).
fn redaction_groups(config: &Yaml) -> Vec<Group> {
    let mut groups = Vec::new();
    let processors = config.keys_at("processors");
    for name in processors
        .iter()
        .filter(|name| name.starts_with("transform/redact"))
    {
        for kind in ["trace_statements", "log_statements"] {
            let Some(Yaml::Sequence(items)) = config.at(&format!("processors.{name}.{kind}"))
            else {
                continue;
            };
            let flat: Vec<String> = items
                .iter()
                .filter_map(|item| item.as_str().map(str::to_owned))
                .collect();
            if !flat.is_empty() {
                groups.push(Group {
                    context: None,
                    statements: flat,
                });
            }
            for group in items.iter().filter(|item| item.is_mapping()) {
                groups.push(Group {
                    context: group.str_at("context").map(str::to_owned),
                    statements: group.strings_at("statements"),
                });
            }
        }
    }
    groups
}

/// OTTL's contexts, most specific first: the order in which the processor
/// picks a group's context from the paths its statements name
/// (upstream: `pkg/ottl/context_inferrer.go`, `defaultContextInferPriority`).
const CONTEXT_PRIORITY: [&str; 8] = [
    "log",
    "datapoint",
    "metric",
    "spanevent",
    "span",
    "resource",
    "scope",
    "instrumentation_scope",
];

/// The most specific context among the paths of `statements` (string
/// literals left out), as the processor infers it.
fn inferred_context<'a>(statements: impl IntoIterator<Item = &'a String>) -> Option<&'static str> {
    let path = Regex::new(&format!(r"\b({})\.", CONTEXT_PRIORITY.join("|"))).unwrap();
    statements
        .into_iter()
        .flat_map(|statement| statement.split('"').step_by(2).collect::<Vec<_>>())
        .flat_map(|code| path.captures_iter(code).map(|found| found[1].to_owned()))
        .filter_map(|context| CONTEXT_PRIORITY.iter().position(|known| *known == context))
        .min()
        .map(|rank| CONTEXT_PRIORITY[rank])
}

/// Every statement that would run in another context than its own. A
/// group runs all its statements once per item of one context; a `span`
/// statement in a group that runs per `spanevent` runs once per event, so
/// never on a span without events, and its card numbers stay.
fn statements_in_a_foreign_context(groups: &[Group]) -> Vec<String> {
    let mut problems = Vec::new();
    for group in groups {
        let runs_in = group
            .context
            .as_deref()
            .or_else(|| inferred_context(&group.statements));
        for statement in &group.statements {
            let own = inferred_context([statement]);
            if own != runs_in {
                let [own, runs_in] = [own, runs_in].map(|context| context.unwrap_or("no context"));
                problems.push(format!("{statement} works on {own} but runs per {runs_in}"));
            }
        }
    }
    problems
}

/// The regex of every redaction statement, as OTTL reads it.
fn redaction_patterns(config: &Yaml) -> Vec<Regex> {
    redaction_groups(config)
        .iter()
        .flat_map(|group| &group.statements)
        .map(|statement| {
            // The third argument of replace_all_patterns, or the second of
            // replace_pattern: the first string literal that is not "value".
            let literals: Vec<&str> = statement.split('"').skip(1).step_by(2).collect();
            let pattern = literals
                .iter()
                .find(|literal| **literal != "value")
                .unwrap();
            Regex::new(&pattern.replace("\\\\", "\\")).unwrap()
        })
        .collect()
}

/// Span attributes must be masked on every span, with events or without:
/// each redaction statement runs in a group of its own context, and span,
/// span event and log statements all exist.
#[test]
fn every_redaction_statement_runs_in_its_own_context() {
    let groups = redaction_groups(&collector());
    assert_eq!(
        statements_in_a_foreign_context(&groups),
        Vec::<String>::new()
    );
    let contexts: Vec<&str> = groups
        .iter()
        .filter_map(|group| group.context.as_deref())
        .collect();
    for context in ["span", "spanevent", "log"] {
        assert!(contexts.contains(&context), "no `{context}` group");
    }
}

/// The check above catches what it is for: span and span event statements
/// in one flat list (the config this replaced), or in one group.
#[test]
fn a_group_that_mixes_span_and_span_event_statements_is_caught() {
    let span = r#"replace_all_patterns(span.attributes, "value", "\\d{16}", "x")"#;
    let event = r#"replace_all_patterns(spanevent.attributes, "value", "\\d{16}", "x")"#;
    let flat = format!(
        "processors:\n  transform/redact:\n    trace_statements:\n      - '{span}'\n      - '{event}'\n"
    );
    let grouped = format!(
        "processors:\n  transform/redact:\n    trace_statements:\n      - context: spanevent\n        statements: ['{span}', '{event}']\n"
    );
    for config in [flat, grouped] {
        let groups = redaction_groups(&serde_yaml_ng::from_str(&config).unwrap());
        let problems = statements_in_a_foreign_context(&groups);
        assert_eq!(problems.len(), 1, "{config}");
        assert!(problems[0].contains("span.attributes"), "{problems:?}");
    }
}

#[test]
fn redaction_masks_card_numbers_and_nothing_the_suite_needs() {
    let patterns = redaction_patterns(&collector());
    assert_eq!(
        patterns.len(),
        4,
        "span and event attributes, log bodies and log attributes"
    );
    for pattern in &patterns {
        for card in [
            "4242424242424242",
            "4000000000000002",
            "4242 4242 4242 4242",
            "card 378282246310005 used",
        ] {
            assert!(pattern.is_match(card), "{pattern} misses {card}");
        }
        for kept in [
            "ord_01a20bc503317737a10cc47f044a9d5d",
            "8900",
            "2026-11-24T04:16:30.595968311Z",
            "4242",
            "cus_1001",
        ] {
            assert!(!pattern.is_match(kept), "{pattern} would mask {kept}");
        }
    }
}

/// Every Collector reports its own telemetry per instance: pushed over
/// OTLP to Prometheus, with the `service.instance.id` the Collector gives
/// its own resource (a UUID per process), so two agents or two samplers are
/// two series each. A scrape through a Service that balances over several
/// replicas would read a different one each time (counters "resetting" at
/// every scrape), and the samplers had a port nobody scraped.
#[test]
fn every_collector_pushes_its_own_metrics_to_prometheus_per_instance() {
    let repo = Repo::default();
    for file in [
        "otel-collector-config.yaml",
        "deploy/collector/agent.yaml",
        "deploy/collector/sampler.yaml",
    ] {
        let config = repo.yaml(file).unwrap();
        let readers = config
            .at("service.telemetry.metrics.readers")
            .and_then(Yaml::as_sequence)
            .unwrap_or_else(|| panic!("{file}: no telemetry metrics readers"));
        for reader in readers {
            assert!(
                reader.at("pull").is_none(),
                "{file}: a pull reader is a port a scrape would read through a load-balancing Service"
            );
        }
        let pushed = readers.iter().any(|reader| {
            reader.str_at("periodic.exporter.otlp.protocol") == Some("http/protobuf")
                && reader.str_at("periodic.exporter.otlp.endpoint")
                    == Some("http://prometheus:9090/api/v1/otlp/v1/metrics")
                && reader
                    .at("periodic.interval")
                    .and_then(Yaml::as_u64)
                    .is_some_and(|interval| interval <= 15_000)
        });
        assert!(
            pushed,
            "{file}: its own metrics are not pushed to Prometheus every 15 s"
        );
    }
    // Nothing scrapes a Collector any more.
    let prometheus = repo.yaml("prometheus.yaml").unwrap();
    let jobs = prometheus
        .at("scrape_configs")
        .and_then(Yaml::as_sequence)
        .unwrap();
    for job in jobs {
        let configs = job
            .at("static_configs")
            .and_then(Yaml::as_sequence)
            .unwrap();
        for target in configs
            .iter()
            .flat_map(|config| config.strings_at("targets"))
        {
            assert!(
                !target.starts_with("otel-"),
                "prometheus.yaml scrapes {target}"
            );
        }
    }
}
