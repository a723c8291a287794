//! One source of span metrics that sampling cannot bias: every panel, alert
//! and trace-to-metrics link reads the Collector's span metrics
//! (`traces_span_metrics_*`), counted from every span before any sampling
//! decision, by every Collector the services export to (the default stack's
//! single one and the sampling tiers' agents) with the same settings; and
//! Tempo, which sees only the kept traces, makes none (its
//! `traces_spanmetrics_*` would count errors and slow checkouts up to ten
//! times too often under tail sampling).

#![allow(
    clippy::unwrap_used,
    reason = "a failed check is a panic with the reason in its message"
)]

use stack_check::collector::{component_type, components_of_type, pipelines};
use stack_check::{Repo, Yaml, YamlExt, queries};

/// What the services export to: compose's default Collector, and the
/// sampling tiers' agent (compose's profile and Kubernetes).
const COLLECTORS: [&str; 2] = ["otel-collector-config.yaml", "deploy/collector/agent.yaml"];
const SPAN_METRICS: [&str; 2] = ["span_metrics", "spanmetrics"];

#[test]
fn every_span_metrics_query_reads_what_the_collectors_count_before_sampling() {
    let queries = queries::all(&Repo::default()).unwrap();
    let mut unbiased = 0;
    for query in &queries {
        assert!(
            !query.expr.contains("traces_spanmetrics_"),
            "{} reads Tempo's span metrics, which count only the kept traces: {}",
            query.origin,
            query.expr
        );
        if query.expr.contains("traces_span_metrics_") {
            unbiased += 1;
        }
    }
    assert!(
        unbiased >= 6,
        "panels, the alert and the links read the Collector's span metrics"
    );
}

/// The connector's settings, without the exemplars (kept where every trace
/// is kept, off where the samplers drop most of the traces they would
/// name).
fn connector(file: &str) -> Yaml {
    let config = Repo::default().yaml(file).unwrap();
    let [id] = components_of_type(&config, "connectors", &SPAN_METRICS)
        .try_into()
        .unwrap_or_else(|ids: Vec<String>| panic!("{file}: span metrics connectors {ids:?}"));
    for pipeline in pipelines(&config) {
        if pipeline.signal() == "traces" {
            assert!(
                pipeline.exporters.contains(&id),
                "{file}: {} skips {id}",
                pipeline.name
            );
            for processor in &pipeline.processors {
                let kind = component_type(processor);
                assert!(
                    !["tail_sampling", "probabilistic_sampler"].contains(&kind),
                    "{file}: {} samples before {id}",
                    pipeline.name
                );
            }
        }
    }
    let mut settings = config.at(&format!("connectors.{id}")).cloned().unwrap();
    if let Some(mapping) = settings.as_mapping_mut() {
        mapping.remove("exemplars");
    }
    settings
}

#[test]
fn every_collector_the_services_export_to_counts_spans_alike() {
    let [single, agent] = COLLECTORS.map(connector);
    assert_eq!(single, agent, "{COLLECTORS:?} count spans differently");
}

#[test]
fn tempo_makes_no_second_set_of_span_metrics() {
    let tempo = Repo::default().yaml("tempo.yaml").unwrap();
    let processors = tempo.strings_at("overrides.defaults.metrics_generator.processors");
    assert!(
        !processors
            .iter()
            .any(|processor| processor == "span-metrics"),
        "tempo.yaml's generator makes span metrics from sampled traces: {processors:?}"
    );
}
