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

#[test]
fn every_pipeline_component_is_defined() {
    let config = collector();
    for pipeline in config.keys_at("service.pipelines") {
        for kind in ["receivers", "processors", "exporters"] {
            let defined = config.keys_at(kind);
            for component in config.strings_at(&format!("service.pipelines.{pipeline}.{kind}")) {
                assert!(
                    defined.contains(&component),
                    "{pipeline} uses undefined {kind} {component}"
                );
            }
        }
    }
    for extension in config.strings_at("service.extensions") {
        assert!(
            config.keys_at("extensions").contains(&extension),
            "undefined extension {extension}"
        );
    }
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

    let [traces] = exporters("traces").try_into().unwrap();
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

/// Every statement of every `transform/redact*` processor, with the
/// context of the group it is in (`None` for a statement outside any
/// group: the flat style, whose context the processor infers).
fn redaction_statements(config: &Yaml) -> Vec<(Option<String>, String)> {
    let mut statements = Vec::new();
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
            for item in items {
                match item {
                    Yaml::String(statement) => statements.push((None, statement.clone())),
                    group => {
                        let context = group.str_at("context").map(str::to_owned);
                        for statement in group.strings_at("statements") {
                            statements.push((context.clone(), statement));
                        }
                    }
                }
            }
        }
    }
    statements
}

/// The regex of every redaction statement, as OTTL reads it.
fn redaction_patterns(config: &Yaml) -> Vec<Regex> {
    redaction_statements(config)
        .into_iter()
        .map(|(_, statement)| {
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

/// The transform processor runs a group of statements in one context. In
/// the flat style (a list of statements, no `context`) it infers one
/// context for the whole list and, given `span` and `spanevent` paths,
/// picks `spanevent`: the span statement then runs only on spans that have
/// events (upstream: `processor/transformprocessor/config.go`,
/// `pkg/ottl/context_inferrer.go`). So every statement must sit in a group
/// that names its context, and use only that context's paths.
#[test]
fn every_redaction_statement_is_in_a_group_of_its_own_context() {
    let statements = redaction_statements(&collector());
    assert!(!statements.is_empty());
    for (context, statement) in &statements {
        let context = context
            .as_deref()
            .unwrap_or_else(|| panic!("{statement:?} is in no group with a `context`"));
        let path = statement
            .split(['(', ','])
            .nth(1)
            .map(str::trim)
            .unwrap_or_default();
        let path_context = path.split('.').next().unwrap_or_default();
        assert_eq!(
            path_context, context,
            "{statement:?} works on {path} inside a `{context}` group"
        );
    }
    let contexts: Vec<&str> = statements
        .iter()
        .filter_map(|(context, _)| context.as_deref())
        .collect();
    for context in ["span", "spanevent", "log"] {
        assert!(contexts.contains(&context), "no `{context}` group");
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
