//! The Kubernetes base, closed inside the cluster: `NetworkPolicy` objects let
//! each pod be reached by exactly the pods the contract and the stack say
//! call it (evaluated here as the API defines them: a pod selected by an
//! ingress policy accepts only what one of its rules allows); Grafana's
//! admin password comes from a Secret; and no service accepts injected
//! faults unless a demo overlay says so.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed check is a panic with the reason in its message"
)]

use std::collections::BTreeSet;

use stack_check::{Repo, Yaml, YamlExt};

const BASE: &str = "deploy/kubernetes/base";
const OVERLAY: &str = "deploy/kubernetes/overlays/kind";

/// Who may reach whom, and on which port: the contract's calls, the
/// telemetry path (services → agents → samplers → Tempo; agents → Loki,
/// Prometheus), the backends' own traffic (Tempo's remote write, the
/// Collectors' own metrics, alerts), and Grafana's queries. `None` as the
/// caller: anyone (the two front doors: the shop and Grafana).
const ALLOWED: &[(Option<&str>, &str, u16)] = &[
    (None, "gateway", 8080),
    (None, "grafana", 3000),
    (Some("gateway"), "users", 8081),
    (Some("gateway"), "orders", 8082),
    (Some("gateway"), "notifications", 8084),
    (Some("orders"), "payments", 8083),
    (Some("payments"), "card-processor", 8085),
    (Some("users"), "postgres", 5432),
    (Some("orders"), "postgres", 5432),
    (Some("payments"), "postgres", 5432),
    (Some("notifications"), "postgres", 5432),
    (Some("orders"), "nats", 4222),
    (Some("users"), "nats", 4222),
    (Some("gateway"), "otel-collector", 4317),
    (Some("gateway"), "otel-collector", 4318),
    (Some("users"), "otel-collector", 4317),
    (Some("users"), "otel-collector", 4318),
    (Some("orders"), "otel-collector", 4317),
    (Some("orders"), "otel-collector", 4318),
    (Some("payments"), "otel-collector", 4317),
    (Some("payments"), "otel-collector", 4318),
    (Some("notifications"), "otel-collector", 4317),
    (Some("notifications"), "otel-collector", 4318),
    (Some("otel-collector"), "otel-sampler", 4317),
    (Some("otel-sampler"), "tempo", 4317),
    (Some("otel-collector"), "loki", 3100),
    (Some("otel-collector"), "prometheus", 9090),
    (Some("otel-sampler"), "prometheus", 9090),
    (Some("tempo"), "prometheus", 9090),
    (Some("grafana"), "prometheus", 9090),
    (Some("grafana"), "tempo", 3200),
    (Some("grafana"), "loki", 3100),
    (Some("grafana"), "alertmanager", 9093),
    (Some("prometheus"), "alertmanager", 9093),
    // Prometheus scrapes the backends' own metrics (prometheus.yaml).
    (Some("prometheus"), "tempo", 3200),
    (Some("prometheus"), "loki", 3100),
];

fn kind_of(doc: &Yaml) -> &str {
    doc.str_at("kind").unwrap_or_default()
}

fn name_of(doc: &Yaml) -> &str {
    doc.str_at("metadata.name").unwrap_or_default()
}

/// The workloads: name, the pod template's labels, and the container
/// ports (name, number).
struct Pod {
    name: String,
    labels: Yaml,
    ports: Vec<(String, u64)>,
}

fn pods(docs: &[Yaml]) -> Vec<Pod> {
    docs.iter()
        .filter(|doc| ["Deployment", "StatefulSet", "DaemonSet"].contains(&kind_of(doc)))
        .map(|doc| {
            let containers = doc
                .at("spec.template.spec.containers")
                .and_then(Yaml::as_sequence)
                .cloned()
                .unwrap_or_default();
            let ports = containers
                .iter()
                .filter_map(|container| container.at("ports").and_then(Yaml::as_sequence))
                .flatten()
                .map(|port| {
                    let name = port.str_at("name").unwrap_or_default().to_owned();
                    (
                        name,
                        port.at("containerPort")
                            .and_then(Yaml::as_u64)
                            .unwrap_or_default(),
                    )
                })
                .collect();
            Pod {
                name: name_of(doc).to_owned(),
                labels: doc
                    .at("spec.template.metadata.labels")
                    .cloned()
                    .unwrap_or(Yaml::Null),
                ports,
            }
        })
        .collect()
}

/// `matchLabels` only (what the manifests use); an empty selector selects
/// every pod.
fn selects(selector: Option<&Yaml>, labels: &Yaml) -> bool {
    let Some(wanted) = selector.and_then(|selector| selector.at("matchLabels")) else {
        return selector.is_some_and(|selector| {
            selector
                .as_mapping()
                .is_none_or(serde_yaml_ng::Mapping::is_empty)
        });
    };
    wanted
        .as_mapping()
        .into_iter()
        .flatten()
        .all(|(key, value)| {
            key.as_str()
                .and_then(|key| labels.get(key))
                .is_some_and(|found| found == value)
        })
}

/// Whether `source` (or any pod, for `None`) may open a connection to
/// `target` on `port`, by the `NetworkPolicy` objects in `docs`.
fn allowed(docs: &[Yaml], source: Option<&Pod>, target: &Pod, port: u64) -> bool {
    let policies: Vec<&Yaml> = docs
        .iter()
        .filter(|doc| kind_of(doc) == "NetworkPolicy")
        .filter(|policy| selects(policy.at("spec.podSelector"), &target.labels))
        .filter(|policy| {
            let types = policy.strings_at("spec.policyTypes");
            types.is_empty() || types.iter().any(|kind| kind == "Ingress")
        })
        .collect();
    if policies.is_empty() {
        return true;
    }
    let port_matches = |rule: &Yaml| match rule.at("ports").and_then(Yaml::as_sequence) {
        None => true,
        Some(ports) => ports.iter().any(|entry| match entry.at("port") {
            None => true,
            Some(Yaml::Number(number)) => number.as_u64() == Some(port),
            Some(Yaml::String(name)) => target
                .ports
                .iter()
                .any(|(port_name, number)| port_name == name && *number == port),
            Some(_) => false,
        }),
    };
    let source_matches = |rule: &Yaml| match rule.at("from").and_then(Yaml::as_sequence) {
        None => true,
        Some(peers) => peers.iter().any(|peer| {
            // Only pods of this namespace: a peer with a namespaceSelector
            // or ipBlock opens the door wider than any caller here needs.
            peer.at("namespaceSelector").is_none()
                && peer.at("ipBlock").is_none()
                && source.is_some_and(|source| selects(peer.at("podSelector"), &source.labels))
        }),
    };
    policies.iter().any(|policy| {
        let rules = policy.at("spec.ingress").and_then(Yaml::as_sequence);
        rules
            .into_iter()
            .flatten()
            .any(|rule| port_matches(rule) && source_matches(rule))
    })
}

/// Every connection that is allowed and should not be, and every one that
/// should be and is not.
fn policy_problems(docs: &[Yaml]) -> Vec<String> {
    let pods = pods(docs);
    let find = |name: &str| pods.iter().find(|pod| pod.name == name);
    let mut problems = Vec::new();
    let wanted: BTreeSet<(Option<&str>, &str, u16)> = ALLOWED.iter().copied().collect();
    for &(source, target, port) in ALLOWED {
        let target_pod = find(target).unwrap_or_else(|| panic!("no workload {target}"));
        let source_pod =
            source.map(|name| find(name).unwrap_or_else(|| panic!("no workload {name}")));
        if !allowed(docs, source_pod, target_pod, u64::from(port)) {
            problems.push(format!(
                "{} cannot reach {target}:{port}",
                source.unwrap_or("anyone")
            ));
        }
    }
    for target in &pods {
        for (_, port) in &target.ports {
            let port16 = u16::try_from(*port).unwrap();
            let public = wanted.contains(&(None, target.name.as_str(), port16));
            if public {
                continue;
            }
            for source in &pods {
                let expected =
                    wanted.contains(&(Some(source.name.as_str()), target.name.as_str(), port16));
                if !expected
                    && source.name != target.name
                    && allowed(docs, Some(source), target, *port)
                {
                    problems.push(format!("{} reaches {}:{port}", source.name, target.name));
                }
            }
            // A pod of another application in the namespace (no labels of
            // ours) reaches nothing but the front doors.
            let stranger = Pod {
                name: "stranger".to_owned(),
                labels: serde_yaml_ng::from_str("{app.kubernetes.io/name: stranger}").unwrap(),
                ports: Vec::new(),
            };
            if allowed(docs, Some(&stranger), target, *port) {
                problems.push(format!("any pod reaches {}:{port}", target.name));
            }
        }
    }
    problems
}

#[test]
fn network_policies_allow_exactly_the_stacks_traffic() {
    let docs = Repo::default().kustomize(BASE).unwrap();
    let problems = policy_problems(&docs);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_policy_that_opens_a_database_to_everyone_is_caught() {
    let mut docs = Repo::default().kustomize(BASE).unwrap();
    docs.push(
        serde_yaml_ng::from_str(
            "{kind: NetworkPolicy, metadata: {name: open}, spec: {podSelector: {matchLabels: {app.kubernetes.io/name: postgres}}, ingress: [{}]}}",
        )
        .unwrap(),
    );
    let problems = policy_problems(&docs);
    assert!(
        problems
            .iter()
            .any(|problem| problem == "card-processor reaches postgres:5432"),
        "{problems:?}"
    );
}

/// The variables of the first container of `workload`.
fn env(docs: &[Yaml], workload: &str) -> Vec<Yaml> {
    let doc = docs
        .iter()
        .find(|doc| {
            name_of(doc) == workload && ["Deployment", "StatefulSet"].contains(&kind_of(doc))
        })
        .unwrap_or_else(|| panic!("no {workload}"));
    let containers = doc
        .at("spec.template.spec.containers")
        .and_then(Yaml::as_sequence);
    (containers.and_then(|containers| containers.first()))
        .and_then(|container| container.at("env"))
        .and_then(Yaml::as_sequence)
        .cloned()
        .unwrap_or_default()
}

#[test]
fn grafanas_admin_password_comes_from_a_secret() {
    let docs = Repo::default().kustomize(BASE).unwrap();
    let password = env(&docs, "grafana")
        .into_iter()
        .find(|variable| variable.str_at("name") == Some("GF_SECURITY_ADMIN_PASSWORD"))
        .expect("Grafana's admin password is its default, admin");
    assert!(
        password.at("valueFrom.secretKeyRef.name").is_some() && password.at("value").is_none(),
        "{password:?}"
    );
    // The base holds no password: an overlay brings the Secret.
    assert!(
        !docs.iter().any(|doc| kind_of(doc) == "Secret"),
        "the base carries a Secret"
    );
    let overlay = Repo::default().kustomize(OVERLAY).unwrap();
    let secret = password.str_at("valueFrom.secretKeyRef.name").unwrap();
    assert!(
        overlay
            .iter()
            .any(|doc| kind_of(doc) == "Secret" && name_of(doc).starts_with(secret)),
        "the kind overlay provides no {secret}"
    );
}

#[test]
fn faults_are_off_unless_a_demo_overlay_turns_them_on() {
    let docs = Repo::default().kustomize(BASE).unwrap();
    for (service, _, _) in stack_check::RUST_SERVICES {
        let faults = env(&docs, service)
            .into_iter()
            .any(|variable| variable.str_at("name") == Some("FAULTS_ENABLED"));
        assert!(
            !faults,
            "{service}: the base lets any caller inject failures"
        );
    }
}
