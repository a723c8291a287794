//! The Collector's two tiers for tail sampling, `deploy/collector/agent.yaml`
//! and `deploy/collector/sampler.yaml`, and compose's `sampling` profile
//! that runs them: traces routed whole to a sampler by trace id, span
//! metrics counted before any sampling, metrics and logs never sampled, the
//! sampling policies the suite promises, the same redaction as the single
//! Collector, and a default stack that keeps every trace.
//!
//! Each check is a function listing what is wrong with a configuration; a
//! test runs it on the files and expects nothing, and the `..._is_caught`
//! tests break a copy as a file could be broken and expect the check to
//! say so.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed check is a panic with the reason in its message"
)]

use std::time::Duration;

use regex::Regex;
use stack_check::collector::{Pipeline, component_type, components_of_type, pipelines};
use stack_check::{Repo, Yaml, YamlExt};

const AGENT: &str = "deploy/collector/agent.yaml";
const SAMPLER: &str = "deploy/collector/sampler.yaml";
const SINGLE: &str = "otel-collector-config.yaml";

/// Component types, each with its deprecated alias where 0.158.0 has one.
const LOAD_BALANCING: [&str; 2] = ["load_balancing", "loadbalancing"];
const SPAN_METRICS: [&str; 2] = ["span_metrics", "spanmetrics"];
/// Every processor that drops traces by a sampling decision.
const SAMPLING_PROCESSORS: [&str; 2] = ["tail_sampling", "probabilistic_sampler"];

/// The samplers' name: compose's service and the headless Service.
const SAMPLER_HOST: &str = "otel-sampler";
/// The span every checkout has, measured by the gateway.
const CHECKOUT_SPAN: &str = "POST /checkout";
/// The checkout's latency objective (prometheus-rules, the dashboard).
const CHECKOUT_SLO: Duration = Duration::from_millis(500);
/// The load generator's mark on every server span.
const SYNTHETIC: &str = "app.synthetic_request";
/// The SDKs' default `OTEL_BSP_SCHEDULE_DELAY`: how long a service may
/// hold an ended span before exporting it.
const EXPORT_INTERVAL: Duration = Duration::from_secs(5);

fn repo() -> Repo {
    Repo::default()
}

fn agent() -> Yaml {
    repo().yaml(AGENT).unwrap()
}

fn sampler() -> Yaml {
    repo().yaml(SAMPLER).unwrap()
}

fn single() -> Yaml {
    repo().yaml(SINGLE).unwrap()
}

fn of_signal<'a>(pipelines: &'a [Pipeline], signal: &str) -> Vec<&'a Pipeline> {
    pipelines.iter().filter(|p| p.signal() == signal).collect()
}

/// `500ms`, `10s`, `1m`, as the Collector writes durations.
fn duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "s" => number,
        "m" => number * 60.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(seconds))
}

fn scalar(value: Option<&Yaml>) -> Option<String> {
    match value? {
        Yaml::String(text) => Some(text.clone()),
        Yaml::Number(number) => Some(number.to_string()),
        Yaml::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// The checks

/// Every pipeline of both tiers names defined components, and every
/// component defined is used (`stack_check::collector`), with the current
/// names of the components that 0.158.0 renamed.
fn definition_problems(file: &str, config: &Yaml) -> Vec<String> {
    let mut problems: Vec<String> = stack_check::collector::pipeline_problems(config)
        .into_iter()
        .map(|problem| format!("{file}: {problem}"))
        .collect();
    for kind in stack_check::collector::KINDS {
        for id in config.keys_at(kind) {
            let deprecated = [
                "loadbalancing",
                "spanmetrics",
                "otlp",
                "otlphttp",
                "logging",
            ];
            if kind != "receivers" && deprecated.contains(&component_type(&id)) {
                problems.push(format!("{file}: {id} is a deprecated name"));
            }
        }
    }
    problems
}

/// The agent sends every trace, and nothing but traces, to the samplers,
/// by trace id, resolving them by DNS at the name compose and Kubernetes
/// give them, on the port the samplers listen on.
fn routing_problems(agent: &Yaml, sampler: &Yaml) -> Vec<String> {
    let mut problems = Vec::new();
    let balancers = components_of_type(agent, "exporters", &LOAD_BALANCING);
    let connectors = agent.keys_at("connectors");
    let pipelines = pipelines(agent);
    let traces = of_signal(&pipelines, "traces");
    if traces.is_empty() {
        problems.push("the agent has no traces pipeline".to_owned());
    }
    for pipeline in traces {
        if !pipeline.exporters.iter().any(|id| balancers.contains(id)) {
            problems.push(format!("{}: no load_balancing exporter", pipeline.name));
        }
        for exporter in &pipeline.exporters {
            if !balancers.contains(exporter) && !connectors.contains(exporter) {
                problems.push(format!(
                    "{}: {exporter} sends traces past the samplers",
                    pipeline.name
                ));
            }
        }
    }
    let sampler_port = sampler
        .str_at("receivers.otlp.protocols.grpc.endpoint")
        .and_then(|endpoint| endpoint.rsplit(':').next())
        .unwrap_or_default()
        .to_owned();
    for id in &balancers {
        let settings = |path: &str| scalar(agent.at(&format!("exporters.{id}.{path}")));
        if settings("routing_key").as_deref() != Some("traceID") {
            problems.push(format!(
                "{id}: routing_key {:?}, not traceID",
                settings("routing_key")
            ));
        }
        if settings("resolver.dns.hostname").as_deref() != Some(SAMPLER_HOST) {
            problems.push(format!("{id}: does not resolve {SAMPLER_HOST} by DNS"));
        }
        // The resolver's default port is the OTLP/gRPC one.
        let port = settings("resolver.dns.port").unwrap_or_else(|| "4317".to_owned());
        if port != sampler_port {
            problems.push(format!(
                "{id}: port {port}, the samplers listen on {sampler_port}"
            ));
        }
        for signal in ["metrics", "logs"] {
            if of_signal(&pipelines, signal)
                .iter()
                .any(|p| p.exporters.contains(id))
            {
                problems.push(format!("{signal} go to the samplers through {id}"));
            }
        }
    }
    problems
}

/// The agent counts every span into span metrics before any sampling: its
/// traces pipelines export to a span metrics connector, which feeds a
/// metrics pipeline to Prometheus, with a bucket edge at the checkout's
/// objective; nothing samples in the agent; the sampler, which sees only
/// what it keeps after its decision, computes no span metrics.
fn span_metrics_problems(agent: &Yaml, sampler: &Yaml) -> Vec<String> {
    let mut problems = Vec::new();
    let pipelines = pipelines(agent);
    let connectors = components_of_type(agent, "connectors", &SPAN_METRICS);
    for pipeline in of_signal(&pipelines, "traces") {
        if !pipeline.exporters.iter().any(|id| connectors.contains(id)) {
            problems.push(format!(
                "{}: no span metrics connector before sampling",
                pipeline.name
            ));
        }
    }
    for connector in &connectors {
        let to_prometheus = of_signal(&pipelines, "metrics").iter().any(|pipeline| {
            pipeline.receivers.contains(connector)
                && pipeline.exporters.iter().any(|exporter| {
                    agent
                        .str_at(&format!("exporters.{exporter}.endpoint"))
                        .is_some_and(|endpoint| endpoint.starts_with("http://prometheus:"))
                })
        });
        if !to_prometheus {
            problems.push(format!("{connector}: its metrics reach no Prometheus"));
        }
        let buckets: Vec<Duration> = agent
            .strings_at(&format!(
                "connectors.{connector}.histogram.explicit.buckets"
            ))
            .iter()
            .filter_map(|bucket| duration(bucket))
            .collect();
        if !buckets.contains(&CHECKOUT_SLO) {
            problems.push(format!(
                "{connector}: no bucket edge at {CHECKOUT_SLO:?} ({buckets:?})"
            ));
        }
        let dimensions: Vec<String> = agent
            .at(&format!("connectors.{connector}.dimensions"))
            .and_then(Yaml::as_sequence)
            .into_iter()
            .flatten()
            .filter_map(|dimension| dimension.str_at("name").map(str::to_owned))
            .collect();
        if !dimensions.iter().any(|name| name == SYNTHETIC) {
            problems.push(format!("{connector}: cannot tell synthetic traffic apart"));
        }
    }
    for pipeline in &pipelines {
        for processor in &pipeline.processors {
            if SAMPLING_PROCESSORS.contains(&component_type(processor)) {
                problems.push(format!(
                    "the agent samples in {} ({processor}), before or beside its span metrics",
                    pipeline.name
                ));
            }
        }
    }
    for kind in ["connectors", "processors"] {
        for id in sampler.keys_at(kind) {
            if SPAN_METRICS.contains(&component_type(&id)) || component_type(&id) == "spanmetrics" {
                problems.push(format!(
                    "the sampler computes span metrics ({id}) from sampled traces"
                ));
            }
        }
    }
    problems
}

/// Metrics and logs are never sampled, in either tier, and go where the
/// single Collector sends them: the same exporters, the same endpoints.
fn unsampled_signal_problems(agent: &Yaml, sampler: &Yaml) -> Vec<String> {
    let mut problems = Vec::new();
    let single = single();
    let single_pipelines = pipelines(&single);
    for (file, config) in [(AGENT, agent), (SAMPLER, sampler)] {
        let pipelines = pipelines(config);
        for signal in ["metrics", "logs"] {
            for pipeline in of_signal(&pipelines, signal) {
                for processor in &pipeline.processors {
                    if SAMPLING_PROCESSORS.contains(&component_type(processor)) {
                        problems.push(format!(
                            "{file}: {} passes through {processor}",
                            pipeline.name
                        ));
                    }
                }
                if file == SAMPLER {
                    problems.push(format!("{file}: {} reaches the sampler", pipeline.name));
                }
            }
        }
    }
    let agent_pipelines = pipelines(agent);
    for signal in ["metrics", "logs"] {
        let wanted: Vec<(String, Option<String>)> = of_signal(&single_pipelines, signal)
            .iter()
            .flat_map(|pipeline| &pipeline.exporters)
            .map(|id| {
                (
                    id.clone(),
                    scalar(single.at(&format!("exporters.{id}.endpoint"))),
                )
            })
            .collect();
        let pipelines = of_signal(&agent_pipelines, signal);
        if pipelines.is_empty() {
            problems.push(format!("{AGENT}: no {signal} pipeline"));
        }
        for pipeline in pipelines {
            let found: Vec<(String, Option<String>)> = pipeline
                .exporters
                .iter()
                .map(|id| {
                    (
                        id.clone(),
                        scalar(agent.at(&format!("exporters.{id}.endpoint"))),
                    )
                })
                .collect();
            if found != wanted {
                problems.push(format!(
                    "{AGENT}: {} exports to {found:?}, {SINGLE} to {wanted:?}",
                    pipeline.name
                ));
            }
            if !pipeline.receivers.iter().any(|id| id == "otlp") {
                problems.push(format!("{AGENT}: {} does not take OTLP", pipeline.name));
            }
        }
    }
    problems
}

/// The agent redacts exactly as the single Collector does: every
/// `transform/redact*` processor of `otel-collector-config.yaml` is in the
/// agent with the same settings (the statements themselves are tested in
/// `tests/collector.rs`), second in its traces and logs pipelines, after
/// `memory_limiter`, as there.
fn redaction_problems(agent: &Yaml) -> Vec<String> {
    let mut problems = Vec::new();
    let single = single();
    let redactions: Vec<String> = single
        .keys_at("processors")
        .into_iter()
        .filter(|id| id.starts_with("transform/redact"))
        .collect();
    if redactions.is_empty() {
        problems.push(format!("{SINGLE} has no transform/redact* processor"));
    }
    for id in &redactions {
        let path = format!("processors.{id}");
        if agent.at(&path) != single.at(&path) {
            problems.push(format!("{AGENT}: {id} differs from {SINGLE}'s"));
        }
    }
    let agent_pipelines = pipelines(agent);
    for pipeline in pipelines(&single) {
        let used: Vec<&String> = pipeline
            .processors
            .iter()
            .filter(|id| redactions.contains(id))
            .collect();
        if used.is_empty() {
            continue;
        }
        for mirror in of_signal(&agent_pipelines, pipeline.signal()) {
            if mirror.processors.first().map(String::as_str) != Some("memory_limiter") {
                problems.push(format!(
                    "{AGENT}: {} does not start with memory_limiter",
                    mirror.name
                ));
            }
            for id in &used {
                if !mirror.processors.contains(id) {
                    problems.push(format!(
                        "{AGENT}: {} does not redact with {id}",
                        mirror.name
                    ));
                }
            }
        }
    }
    problems
}

/// One `tail_sampling` policy, top-level.
struct Policy<'a> {
    index: usize,
    value: &'a Yaml,
}

impl Policy<'_> {
    fn kind(&self) -> &str {
        self.value.str_at("type").unwrap_or_default()
    }
}

/// The `ottl_condition` that keeps a checkout over the objective: the
/// gateway's `POST /checkout` SERVER span, its own duration compared with
/// the objective in nanoseconds.
fn is_checkout_latency_condition(condition: &str) -> bool {
    let threshold = Regex::new(
        r"(?:span\.)?end_time_unix_nano\s*-\s*(?:span\.)?start_time_unix_nano\s*>\s*(\d+)",
    )
    .unwrap();
    let over_objective = threshold
        .captures(condition)
        .and_then(|found| found[1].parse::<u128>().ok())
        == Some(CHECKOUT_SLO.as_nanos());
    over_objective
        && condition.contains(&format!("\"{CHECKOUT_SPAN}\""))
        && condition.contains("SPAN_KIND_SERVER")
        && condition.contains(r#"resource.attributes["service.name"] == "gateway""#)
        && !condition.contains(" or ")
}

/// The sampler's policies, in this order: every trace with an error, every
/// checkout over 500 ms (on the checkout's own span, not the whole trace),
/// 10 % of the rest excluding the load generator's traffic; and a
/// `decision_wait` that outlasts the longest checkout plus one export
/// interval, with the gateway's deadline read from its source.
fn policy_problems(sampler: &Yaml) -> Vec<String> {
    let mut problems = Vec::new();
    let processors = components_of_type(sampler, "processors", &["tail_sampling"]);
    let pipelines = pipelines(sampler);
    let [tail] = processors.as_slice() else {
        return vec![format!(
            "{SAMPLER}: {} tail_sampling processors, not one",
            processors.len()
        )];
    };
    let traces = of_signal(&pipelines, "traces");
    if traces.is_empty() || !traces.iter().all(|p| p.processors.contains(tail)) {
        problems.push(format!("{SAMPLER}: a traces pipeline without {tail}"));
    }
    let policies: Vec<Policy> = sampler
        .at(&format!("processors.{tail}.policies"))
        .and_then(Yaml::as_sequence)
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(index, value)| Policy { index, value })
        .collect();

    let errors = policies.iter().find(|policy| {
        policy.kind() == "status_code"
            && policy.value.strings_at("status_code.status_codes") == ["ERROR"]
    });
    let slow = policies.iter().find(|policy| {
        policy.kind() == "ottl_condition"
            && policy
                .value
                .strings_at("ottl_condition.span")
                .iter()
                .any(|condition| is_checkout_latency_condition(condition))
    });
    let sample = policies.iter().find(|policy| {
        let subs = policy
            .value
            .at("and.and_sub_policy")
            .and_then(Yaml::as_sequence)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let ten_percent = subs.iter().any(|sub| {
            sub.str_at("type") == Some("probabilistic")
                && sub
                    .at("probabilistic.sampling_percentage")
                    .and_then(Yaml::as_f64)
                    == Some(10.0)
        });
        let not_synthetic = subs.iter().any(|sub| {
            sub.str_at("type") == Some("boolean_attribute")
                && sub.str_at("boolean_attribute.key") == Some(SYNTHETIC)
                && sub.at("boolean_attribute.value").and_then(Yaml::as_bool) == Some(true)
                && sub
                    .at("boolean_attribute.invert_match")
                    .and_then(Yaml::as_bool)
                    == Some(true)
        });
        policy.kind() == "and" && ten_percent && not_synthetic
    });
    if errors.is_none() {
        problems.push("no policy keeps every trace with an ERROR status".to_owned());
    }
    if slow.is_none() {
        problems.push(format!(
            "no policy keeps every checkout whose {CHECKOUT_SPAN} span took over {CHECKOUT_SLO:?}"
        ));
    }
    if sample.is_none() {
        problems.push("no policy keeps 10 % of the traffic that is not synthetic".to_owned());
    }
    if let (Some(errors), Some(slow), Some(sample)) = (errors, slow, sample)
        && !(errors.index < slow.index && slow.index < sample.index)
    {
        problems.push("policies out of order: errors, slow checkouts, then 10 %".to_owned());
    }
    // A probabilistic policy on its own would sample synthetic traffic too,
    // and one outside `and` nothing would limit.
    for policy in &policies {
        if ["probabilistic", "always_sample", "latency"].contains(&policy.kind()) {
            problems.push(format!(
                "policy {} ({}) samples beyond the three promised",
                policy.index,
                policy.kind()
            ));
        }
    }
    problems.extend(wait_problems(sampler, tail));
    problems
}

/// `decision_wait` outlasts the longest checkout (the gateway's deadline,
/// read from its source) plus one export interval; the wait after the root
/// span, if set, outlasts one export interval.
fn wait_problems(sampler: &Yaml, tail: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let gateway = repo().text("crates/gateway/src/config.rs").unwrap();
    let deadline = Regex::new(r"REQUEST_DEADLINE: Duration = Duration::from_secs\((\d+)\)")
        .unwrap()
        .captures(&gateway)
        .map(|found| Duration::from_secs(found[1].parse().unwrap()))
        .expect("the gateway's REQUEST_DEADLINE");
    let setting = |key: &str| {
        sampler
            .str_at(&format!("processors.{tail}.{key}"))
            .and_then(duration)
    };
    match setting("decision_wait") {
        Some(wait) if wait >= deadline + EXPORT_INTERVAL => {}
        wait => problems.push(format!(
            "decision_wait {wait:?} does not cover a checkout's deadline ({deadline:?}) plus an export interval ({EXPORT_INTERVAL:?})"
        )),
    }
    if let Some(after_root) = setting("decision_wait_after_root_received")
        && after_root <= EXPORT_INTERVAL
    {
        problems.push(format!(
            "decision_wait_after_root_received {after_root:?} ends before the other spans' export interval ({EXPORT_INTERVAL:?})"
        ));
    }
    problems
}

/// Compose's `sampling` profile runs the two files with the image of the
/// default stack's Collector, two samplers, the agent after them, memory
/// limits that still fit; the default stack runs none of it and keeps
/// every trace, and `OTEL_COLLECTOR_HOST=otel-agent` moves every service's
/// export to the agent.
fn compose_problems(default: &Yaml, routed: &Yaml) -> Vec<String> {
    let mut problems = Vec::new();
    let image = default
        .str_at("services.otel-collector.image")
        .unwrap_or_default();
    let tiers = [("otel-agent", AGENT), (SAMPLER_HOST, SAMPLER)];
    for (service, file) in tiers {
        let at = |path: &str| format!("services.{service}.{path}");
        if default.at(&at("image")).is_none() {
            problems.push(format!("no compose service {service}"));
            continue;
        }
        if default.strings_at(&at("profiles")) != ["sampling"] {
            problems.push(format!("{service} is not in the sampling profile alone"));
        }
        if default.str_at(&at("image")) != Some(image) {
            problems.push(format!(
                "{service} runs {:?}, not {image}",
                default.str_at(&at("image"))
            ));
        }
        let config = default
            .strings_at(&at("command"))
            .iter()
            .find_map(|arg| arg.strip_prefix("--config=").map(str::to_owned))
            .unwrap_or_default();
        let mount = format!("./{file}:{config}:ro");
        if config.is_empty() || !default.strings_at(&at("volumes")).contains(&mount) {
            problems.push(format!(
                "{service} does not read {file} (wanted the volume {mount})"
            ));
        }
        if default.str_at(&at("mem_limit")).is_none() {
            problems.push(format!("{service} has no mem_limit"));
        }
    }
    let replicas = default
        .at("services.otel-sampler.deploy.replicas")
        .or_else(|| default.at("services.otel-sampler.scale"))
        .and_then(Yaml::as_u64);
    if replicas != Some(2) {
        problems.push(format!("otel-sampler: {replicas:?} replicas, not 2"));
    }
    if default.at("services.otel-sampler.container_name").is_some() {
        problems.push("otel-sampler has a container_name, so one replica at most".to_owned());
    }
    if default
        .at("services.otel-agent.depends_on.otel-sampler")
        .is_none()
    {
        problems.push("otel-agent does not start after otel-sampler".to_owned());
    }

    // Memory with the profile: replicas counted.
    let mut total_mib = 0;
    for service in default.keys_at("services") {
        let mib: u64 = default
            .str_at(&format!("services.{service}.mem_limit"))
            .and_then(|limit| limit.strip_suffix('m'))
            .and_then(|mib| mib.parse().ok())
            .unwrap_or_default();
        let copies = default
            .at(&format!("services.{service}.deploy.replicas"))
            .and_then(Yaml::as_u64)
            .unwrap_or(1);
        total_mib += mib * copies;
    }
    if total_mib > 3584 {
        problems.push(format!(
            "with the sampling profile, limits add up to {total_mib} MiB"
        ));
    }

    problems.extend(default_stack_problems(default, routed));
    problems
}

/// The default stack: no service outside a profile runs a sampler, and
/// every service exports to the single Collector, which keeps all; with
/// `OTEL_COLLECTOR_HOST=otel-agent` (`routed`), to the agent.
fn default_stack_problems(default: &Yaml, routed: &Yaml) -> Vec<String> {
    let mut problems = Vec::new();
    let repo = repo();
    for service in default.keys_at("services") {
        if default
            .at(&format!("services.{service}.profiles"))
            .is_some()
        {
            continue;
        }
        for volume in default.strings_at(&format!("services.{service}.volumes")) {
            let Some(source) = volume.split(':').next().and_then(|s| s.strip_prefix("./")) else {
                continue;
            };
            let is_yaml = std::path::Path::new(source).extension().is_some_and(|ext| {
                ext.eq_ignore_ascii_case("yaml") || ext.eq_ignore_ascii_case("yml")
            });
            if !is_yaml || repo.path(source).is_dir() {
                continue;
            }
            let Ok(config) = repo.yaml(source) else {
                continue;
            };
            for processor in config.keys_at("processors") {
                if SAMPLING_PROCESSORS.contains(&component_type(&processor)) {
                    problems.push(format!(
                        "the default stack's {service} samples ({processor} in {source})"
                    ));
                }
            }
        }
    }
    for (stack, compose, host) in [
        ("default", default, "otel-collector"),
        ("routed", routed, "otel-agent"),
    ] {
        for (service, _, _) in stack_check::RUST_SERVICES {
            let Some(endpoint) = compose.str_at(&format!(
                "services.{service}.environment.OTEL_EXPORTER_OTLP_ENDPOINT"
            )) else {
                continue;
            };
            if endpoint != format!("http://{host}:4318") {
                problems.push(format!(
                    "{stack} stack: {service} exports to {endpoint}, not {host}"
                ));
            }
        }
    }
    problems
}

// ---------------------------------------------------------------------------
// The files pass every check

#[test]
fn both_tiers_define_every_component_they_use_and_use_every_one() {
    let mut problems = definition_problems(AGENT, &agent());
    problems.extend(definition_problems(SAMPLER, &sampler()));
    assert_eq!(problems, Vec::<String>::new());
}

#[test]
fn the_agent_routes_every_trace_whole_to_a_sampler_by_trace_id() {
    assert_eq!(routing_problems(&agent(), &sampler()), Vec::<String>::new());
}

#[test]
fn span_metrics_are_counted_before_any_sampling() {
    assert_eq!(
        span_metrics_problems(&agent(), &sampler()),
        Vec::<String>::new()
    );
}

#[test]
fn metrics_and_logs_are_never_sampled() {
    assert_eq!(
        unsampled_signal_problems(&agent(), &sampler()),
        Vec::<String>::new()
    );
}

#[test]
fn the_agent_redacts_as_the_single_collector_does() {
    assert_eq!(redaction_problems(&agent()), Vec::<String>::new());
}

#[test]
fn the_sampler_keeps_errors_slow_checkouts_and_ten_percent_of_real_traffic() {
    assert_eq!(policy_problems(&sampler()), Vec::<String>::new());
}

#[test]
fn the_sampling_profile_runs_both_tiers_and_the_default_stack_samples_nothing() {
    let repo = repo();
    let default = repo.compose().unwrap();
    let routed = repo
        .compose_with(&[("OTEL_COLLECTOR_HOST", "otel-agent")])
        .unwrap();
    assert_eq!(compose_problems(&default, &routed), Vec::<String>::new());
}

/// The agent listens where the services send: the port of their endpoint.
#[test]
fn the_agent_listens_on_the_services_otlp_ports() {
    let agent = agent();
    assert_eq!(
        agent.str_at("receivers.otlp.protocols.http.endpoint"),
        Some("0.0.0.0:4318")
    );
    assert_eq!(
        agent.str_at("receivers.otlp.protocols.grpc.endpoint"),
        Some("0.0.0.0:4317")
    );
}

/// The samplers write to Tempo as the single Collector does.
#[test]
fn the_sampler_exports_to_tempo_as_the_single_collector_does() {
    let sampler = sampler();
    let single = single();
    let exporters = |config: &Yaml| -> Vec<(String, Option<String>)> {
        of_signal(&pipelines(config), "traces")
            .iter()
            .flat_map(|pipeline| pipeline.exporters.clone())
            // The single Collector's span metrics are counted in the agent
            // in the sampling stack (tests/span_metrics.rs).
            .filter(|id| !SPAN_METRICS.contains(&component_type(id)))
            .map(|id| {
                (
                    id.clone(),
                    scalar(config.at(&format!("exporters.{id}.endpoint"))),
                )
            })
            .collect()
    };
    assert_eq!(exporters(&sampler), exporters(&single));
}

// ---------------------------------------------------------------------------
// Each check catches what it is for

/// A mutable reference to the value at a dotted path (sequence steps by
/// index).
fn at_mut<'a>(value: &'a mut Yaml, path: &str) -> &'a mut Yaml {
    path.split('.')
        .fold(value, |value, step| match step.parse::<usize>() {
            Ok(index) if value.is_sequence() => &mut value.as_sequence_mut().unwrap()[index],
            _ => value
                .get_mut(step)
                .unwrap_or_else(|| panic!("no {step} in {path}")),
        })
}

/// Sets the value at `path`, adding its last key where it is missing.
fn set(config: &mut Yaml, path: &str, value: &str) {
    let value: Yaml = serde_yaml_ng::from_str(value).unwrap();
    match path.rsplit_once('.') {
        Some((parent, key)) if at_mut(config, parent).is_mapping() => {
            at_mut(config, parent)
                .as_mapping_mut()
                .unwrap()
                .insert(Yaml::from(key), value);
        }
        Some(_) => *at_mut(config, path) = value,
        None => {
            config
                .as_mapping_mut()
                .unwrap()
                .insert(Yaml::from(path), value);
        }
    }
}

fn remove(config: &mut Yaml, path: &str) {
    let (parent, key) = path.rsplit_once('.').unwrap();
    at_mut(config, parent).as_mapping_mut().unwrap().remove(key);
}

#[test]
fn an_agent_that_routes_by_service_or_around_the_samplers_is_caught() {
    let sampler = sampler();
    let mut by_service = agent();
    set(
        &mut by_service,
        "exporters.load_balancing.routing_key",
        "service",
    );
    assert_eq!(
        routing_problems(&by_service, &sampler),
        ["load_balancing: routing_key Some(\"service\"), not traceID"]
    );

    let mut straight_to_tempo = agent();
    set(
        &mut straight_to_tempo,
        "service.pipelines.traces.exporters",
        "[span_metrics, otlp_http/loki]",
    );
    let problems = routing_problems(&straight_to_tempo, &sampler);
    assert!(
        problems.contains(&"traces: no load_balancing exporter".to_owned()),
        "{problems:?}"
    );
    assert!(
        problems.contains(&"traces: otlp_http/loki sends traces past the samplers".to_owned()),
        "{problems:?}"
    );
}

#[test]
fn span_metrics_after_sampling_or_in_the_sampler_are_caught() {
    let mut without = agent();
    set(
        &mut without,
        "service.pipelines.traces.exporters",
        "[load_balancing]",
    );
    let problems = span_metrics_problems(&without, &sampler());
    assert!(
        problems.contains(&"traces: no span metrics connector before sampling".to_owned()),
        "{problems:?}"
    );

    let mut in_sampler = sampler();
    set(&mut in_sampler, "connectors", "{span_metrics: {}}");
    let problems = span_metrics_problems(&agent(), &in_sampler);
    assert_eq!(
        problems,
        ["the sampler computes span metrics (span_metrics) from sampled traces"]
    );

    let mut sampling_agent = agent();
    set(
        &mut sampling_agent,
        "processors.tail_sampling",
        "{policies: []}",
    );
    set(
        &mut sampling_agent,
        "service.pipelines.traces.processors",
        "[memory_limiter, tail_sampling, transform/redact_card_numbers]",
    );
    assert_eq!(
        span_metrics_problems(&sampling_agent, &sampler()),
        ["the agent samples in traces (tail_sampling), before or beside its span metrics"]
    );
}

#[test]
fn sampled_metrics_or_logs_are_caught() {
    let mut agent = agent();
    set(&mut agent, "processors.tail_sampling", "{policies: []}");
    set(
        &mut agent,
        "service.pipelines.logs.processors",
        "[memory_limiter, tail_sampling]",
    );
    set(
        &mut agent,
        "service.pipelines.metrics.exporters",
        "[otlp_http/prometheus, load_balancing]",
    );
    let problems = unsampled_signal_problems(&agent, &sampler());
    assert!(
        problems.contains(&format!("{AGENT}: logs passes through tail_sampling")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with(&format!("{AGENT}: metrics exports to"))),
        "{problems:?}"
    );
    assert!(
        routing_problems(&agent, &sampler())
            .contains(&"metrics go to the samplers through load_balancing".to_owned())
    );
}

#[test]
fn a_redaction_unlike_the_single_collectors_is_caught() {
    let mut agent = agent();
    set(
        &mut agent,
        "processors.transform/redact_card_numbers.trace_statements.0.statements.0",
        r#"'replace_all_patterns(span.attributes, "value", "\\d{16}", "x")'"#,
    );
    set(
        &mut agent,
        "service.pipelines.logs.processors",
        "[memory_limiter]",
    );
    assert_eq!(
        redaction_problems(&agent),
        [
            format!("{AGENT}: transform/redact_card_numbers differs from {SINGLE}'s"),
            format!("{AGENT}: logs does not redact with transform/redact_card_numbers"),
        ]
    );
}

#[test]
fn a_missing_or_reordered_policy_is_caught() {
    let policies = "processors.tail_sampling.policies";
    for (index, wanted) in [
        (0, "no policy keeps every trace with an ERROR status"),
        (
            1,
            "no policy keeps every checkout whose POST /checkout span took over 500ms",
        ),
        (
            2,
            "no policy keeps 10 % of the traffic that is not synthetic",
        ),
    ] {
        let mut sampler = sampler();
        at_mut(&mut sampler, policies)
            .as_sequence_mut()
            .unwrap()
            .remove(index);
        assert_eq!(policy_problems(&sampler), [wanted]);
    }

    let mut five_percent = sampler();
    set(
        &mut five_percent,
        &format!("{policies}.2.and.and_sub_policy.1.probabilistic.sampling_percentage"),
        "5",
    );
    assert_eq!(
        policy_problems(&five_percent),
        ["no policy keeps 10 % of the traffic that is not synthetic"]
    );

    let mut five_ms = sampler();
    let slow = format!("{policies}.1.ottl_condition.span.0");
    let condition = at_mut(&mut five_ms, &slow)
        .as_str()
        .unwrap()
        .replace("500000000", "5000000");
    set(&mut five_ms, &slow, &format!("'{condition}'"));
    assert_eq!(
        policy_problems(&five_ms),
        ["no policy keeps every checkout whose POST /checkout span took over 500ms"]
    );

    let mut reordered = sampler();
    at_mut(&mut reordered, policies)
        .as_sequence_mut()
        .unwrap()
        .swap(0, 2);
    assert_eq!(
        policy_problems(&reordered),
        ["policies out of order: errors, slow checkouts, then 10 %"]
    );

    let mut short = sampler();
    set(&mut short, "processors.tail_sampling.decision_wait", "5s");
    remove(
        &mut short,
        "processors.tail_sampling.decision_wait_after_root_received",
    );
    assert_eq!(
        policy_problems(&short),
        [
            "decision_wait Some(5s) does not cover a checkout's deadline (10s) plus an export interval (5s)"
        ]
    );
}

#[test]
fn a_profile_that_runs_other_files_or_a_stack_that_samples_by_default_is_caught() {
    let repo = repo();
    let routed = repo
        .compose_with(&[("OTEL_COLLECTOR_HOST", "otel-agent")])
        .unwrap();

    let mut one_sampler = repo.compose().unwrap();
    set(
        &mut one_sampler,
        "services.otel-sampler.deploy.replicas",
        "1",
    );
    set(
        &mut one_sampler,
        "services.otel-agent.volumes",
        "['./otel-collector-config.yaml:/etc/otelcol-contrib/config.yaml:ro']",
    );
    assert_eq!(
        compose_problems(&one_sampler, &routed),
        [
            format!(
                "otel-agent does not read {AGENT} (wanted the volume ./{AGENT}:/etc/otelcol-contrib/config.yaml:ro)"
            ),
            "otel-sampler: Some(1) replicas, not 2".to_owned(),
        ]
    );

    let mut by_default = repo.compose().unwrap();
    remove(&mut by_default, "services.otel-sampler.profiles");
    let problems = compose_problems(&by_default, &routed);
    assert!(
        problems.contains(&"otel-sampler is not in the sampling profile alone".to_owned()),
        "{problems:?}"
    );
    assert!(
        problems.contains(&format!(
            "the default stack's otel-sampler samples (tail_sampling in {SAMPLER})"
        )),
        "{problems:?}"
    );

    let mut latest = repo.compose().unwrap();
    set(
        &mut latest,
        "services.otel-agent.image",
        "otel/opentelemetry-collector-contrib:latest",
    );
    assert_eq!(
        compose_problems(&latest, &routed),
        [format!(
            "otel-agent runs Some(\"otel/opentelemetry-collector-contrib:latest\"), not {}",
            repo.compose()
                .unwrap()
                .str_at("services.otel-collector.image")
                .unwrap()
        )]
    );
}

/// The compose interpolation the routing depends on: unset variables take
/// their default, set ones their value, `$$` stays a literal `$`.
#[test]
fn compose_variables_are_interpolated_as_compose_does() {
    let lookup = |name: &str| (name == "SET").then(|| "value".to_owned());
    let cases = [
        (
            "http://${UNSET:-otel-collector}:4318",
            "http://otel-collector:4318",
        ),
        ("http://${SET:-otel-collector}:4318", "http://value:4318"),
        ("${UNSET}-$SET-${SET-x}", "-value-value"),
        ("bash $${LISTEN_ADDR##*:}", "bash ${LISTEN_ADDR##*:}"),
        ("no variables", "no variables"),
    ];
    for (text, wanted) in cases {
        assert_eq!(
            stack_check::interpolate(text, &lookup).unwrap(),
            wanted,
            "{text}"
        );
    }
    assert!(stack_check::interpolate("${UNSET:?needed}", &lookup).is_err());
    assert!(stack_check::interpolate("${UNCLOSED", &lookup).is_err());
}
