//! `deploy/kubernetes/`: the kind overlay as `kubectl kustomize` renders it,
//! against the contract's ports and `docker-compose.yml`'s environment,
//! images, flags and configuration files.
//!
//! Nothing here reaches a cluster: the manifests are rendered and read.
//! Each check is a function listing what is wrong in a set of rendered
//! documents; one test runs it on the overlay and expects nothing, another
//! breaks a copy of the documents as a manifest could be broken and expects
//! the check to say so.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed check is a panic with the reason in its message"
)]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use base64::Engine as _;
use stack_check::{RUST_SERVICES, Repo, Yaml, YamlExt};

/// The overlay deploy/kubernetes/README.md deploys.
const OVERLAY: &str = "deploy/kubernetes/overlays/kind";

const WORKLOAD_KINDS: [&str; 3] = ["Deployment", "StatefulSet", "DaemonSet"];

/// The Collector's tiers: the workload, and its configuration file (compose's
/// default single Collector has another, `otel-collector-config.yaml`).
const COLLECTOR_TIERS: [(&str, &str); 2] = [
    ("otel-collector", "deploy/collector/agent.yaml"),
    ("otel-sampler", "deploy/collector/sampler.yaml"),
];

/// The `health_check` extension's defaults, where a config does not set them.
const HEALTH_CHECK_PORT: u64 = 13133;
const HEALTH_CHECK_PATH: &str = "/";

/// The compose service a workload runs as. The agent tier keeps the name
/// the services export to, `otel-collector`; in compose the same tier is the
/// `sampling` profile's `otel-agent` (compose's `otel-collector` is the
/// default, single Collector, which samples nothing).
fn compose_service(workload: &str) -> &str {
    if workload == "otel-collector" {
        "otel-agent"
    } else {
        workload
    }
}

fn rendered() -> Vec<Yaml> {
    static RENDERED: OnceLock<Vec<Yaml>> = OnceLock::new();
    RENDERED
        .get_or_init(|| {
            Repo::default()
                .kustomize(OVERLAY)
                .expect("the overlay renders (kubectl must be on PATH: .ci/run installs it)")
        })
        .clone()
}

fn compose() -> Yaml {
    Repo::default().compose().unwrap()
}

// ---------------------------------------------------------------------------
// Reading rendered documents

/// The value at a dotted path whose numeric steps index sequences
/// (`spec.template.spec.containers.0.env`).
fn step<'a>(value: &'a Yaml, path: &str) -> Option<&'a Yaml> {
    path.split('.')
        .filter(|step| !step.is_empty())
        .try_fold(value, |value, step| match step.parse::<usize>() {
            Ok(index) => value.get(index),
            Err(_) => value.get(step),
        })
}

fn step_mut<'a>(value: &'a mut Yaml, path: &str) -> &'a mut Yaml {
    let mut value = value;
    for part in path.split('.').filter(|part| !part.is_empty()) {
        value = match part.parse::<usize>() {
            Ok(index) => value.get_mut(index),
            Err(_) => value.get_mut(part),
        }
        .unwrap_or_else(|| panic!("no {part} on the way to {path}"));
    }
    value
}

fn kind_of(doc: &Yaml) -> &str {
    doc.str_at("kind").unwrap_or_default()
}

fn name_of(doc: &Yaml) -> &str {
    doc.str_at("metadata.name").unwrap_or_default()
}

fn namespace_of(doc: &Yaml) -> &str {
    doc.str_at("metadata.namespace").unwrap_or_default()
}

fn find<'a>(docs: &'a [Yaml], kind: &str, name: &str) -> Option<&'a Yaml> {
    docs.iter()
        .find(|doc| kind_of(doc) == kind && name_of(doc) == name)
}

fn find_mut<'a>(docs: &'a mut [Yaml], kind: &str, name: &str) -> &'a mut Yaml {
    docs.iter_mut()
        .find(|doc| kind_of(doc) == kind && name_of(doc) == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn workloads(docs: &[Yaml]) -> impl Iterator<Item = &Yaml> {
    docs.iter()
        .filter(|doc| WORKLOAD_KINDS.contains(&kind_of(doc)))
}

fn workload<'a>(docs: &'a [Yaml], name: &str) -> Option<&'a Yaml> {
    workloads(docs).find(|doc| name_of(doc) == name)
}

fn sequence<'a>(value: &'a Yaml, path: &str) -> &'a [Yaml] {
    step(value, path)
        .and_then(Yaml::as_sequence)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// The pod's containers, then its init containers.
fn containers(workload: &Yaml) -> Vec<&Yaml> {
    sequence(workload, "spec.template.spec.containers")
        .iter()
        .chain(sequence(workload, "spec.template.spec.initContainers"))
        .collect()
}

/// A probe's or a Service's port as a number: the number itself, or the
/// port of that name on one of `containers`.
fn port_number(port: Option<&Yaml>, containers: &[&Yaml]) -> Option<u64> {
    let port = port?;
    if let Some(number) = port.as_u64() {
        return Some(number);
    }
    let name = port.as_str()?;
    containers
        .iter()
        .flat_map(|container| sequence(container, "ports"))
        .find(|declared| declared.str_at("name") == Some(name))
        .and_then(|declared| declared.at("containerPort"))
        .and_then(Yaml::as_u64)
}

/// Whether a non-empty `selector` (a label mapping) matches `labels`.
fn selects(selector: Option<&Yaml>, labels: Option<&Yaml>) -> bool {
    let Some(selector) = selector
        .and_then(Yaml::as_mapping)
        .filter(|selector| !selector.is_empty())
    else {
        return false;
    };
    let labels = labels.and_then(Yaml::as_mapping);
    selector
        .iter()
        .all(|(key, value)| labels.and_then(|labels| labels.get(key)) == Some(value))
}

/// The workloads in `namespace` whose pod template `selector` matches.
fn selected<'a>(docs: &'a [Yaml], namespace: &str, selector: Option<&Yaml>) -> Vec<&'a Yaml> {
    workloads(docs)
        .filter(|workload| namespace_of(workload) == namespace)
        .filter(|workload| selects(selector, step(workload, "spec.template.metadata.labels")))
        .collect()
}

fn scalar(value: &Yaml) -> Option<String> {
    match value {
        Yaml::String(text) => Some(text.clone()),
        Yaml::Bool(flag) => Some(flag.to_string()),
        Yaml::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// The environment compose gives `service`, merge keys applied.
fn compose_env(compose: &Yaml, service: &str) -> BTreeMap<String, String> {
    compose
        .at(&format!("services.{service}.environment"))
        .and_then(Yaml::as_mapping)
        .into_iter()
        .flatten()
        .filter_map(|(key, value)| Some((key.as_str()?.to_owned(), scalar(value)?)))
        .collect()
}

/// The value of a key of a `Secret` or `ConfigMap`, decoded.
fn stored_value(docs: &[Yaml], kind: &str, name: &str, key: &str) -> Result<String, String> {
    let doc = find(docs, kind, name).ok_or_else(|| format!("<no {kind} {name}>"))?;
    if let Some(plain) = step(doc, "stringData")
        .or_else(|| (kind == "ConfigMap").then(|| step(doc, "data")).flatten())
        .and_then(|data| data.get(key))
        .and_then(Yaml::as_str)
    {
        return Ok(plain.to_owned());
    }
    let encoded = step(doc, "data")
        .and_then(|data| data.get(key))
        .and_then(Yaml::as_str)
        .ok_or_else(|| format!("<{kind} {name} has no key {key}>"))?;
    // Kustomize wraps long values at 70 characters, as MIME does; the API
    // server's decoder skips the line breaks.
    let encoded: String = encoded.split_whitespace().collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|error| format!("<{kind} {name} {key}: {error}>"))?;
    String::from_utf8(bytes).map_err(|error| format!("<{kind} {name} {key}: {error}>"))
}

/// The first container's environment, each value resolved (a Secret's or a
/// `ConfigMap`'s key read from the rendered documents).
fn container_env(docs: &[Yaml], workload: &Yaml) -> BTreeMap<String, Result<String, String>> {
    let mut env = BTreeMap::new();
    for variable in sequence(workload, "spec.template.spec.containers.0.env") {
        let Some(name) = variable.str_at("name") else {
            continue;
        };
        let value = if let Some(value) = variable.at("value") {
            scalar(value).ok_or_else(|| format!("<{value:?}>"))
        } else if let Some(reference) = step(variable, "valueFrom.secretKeyRef") {
            stored_value(
                docs,
                "Secret",
                reference.str_at("name").unwrap_or_default(),
                reference.str_at("key").unwrap_or_default(),
            )
        } else if let Some(reference) = step(variable, "valueFrom.configMapKeyRef") {
            stored_value(
                docs,
                "ConfigMap",
                reference.str_at("name").unwrap_or_default(),
                reference.str_at("key").unwrap_or_default(),
            )
        } else {
            Err("<set from elsewhere>".to_owned())
        };
        env.insert(name.to_owned(), value);
    }
    env
}

/// The text a workload's first container finds at `path`, if a `ConfigMap`
/// volume puts it there (mounted whole, or one key by `subPath`).
fn file_in_pod(docs: &[Yaml], workload: &Yaml, path: &str) -> Option<String> {
    let mut mounts: Vec<&Yaml> = sequence(workload, "spec.template.spec.containers.0.volumeMounts")
        .iter()
        .collect();
    // The deepest mount wins, as in the container.
    mounts.sort_by_key(|mount| {
        std::cmp::Reverse(mount.str_at("mountPath").unwrap_or_default().len())
    });
    for mount in mounts {
        let mount_path = mount.str_at("mountPath").unwrap_or_default();
        let key = match mount.str_at("subPath") {
            Some(sub_path) if mount_path == path => sub_path,
            Some(_) => continue,
            None => match path.strip_prefix(&format!("{mount_path}/")) {
                Some(rest) if !rest.contains('/') => rest,
                _ => continue,
            },
        };
        let volume = sequence(workload, "spec.template.spec.volumes")
            .iter()
            .find(|volume| volume.str_at("name") == mount.str_at("name"))?;
        let config_map = step(volume, "configMap.name").and_then(Yaml::as_str)?;
        return stored_value(docs, "ConfigMap", config_map, key).ok();
    }
    None
}

// ---------------------------------------------------------------------------
// The checks

/// Services that select no pod, or target a port the selected pods lack.
fn services_without_pods(docs: &[Yaml]) -> Vec<String> {
    let mut problems = Vec::new();
    for service in docs.iter().filter(|doc| kind_of(doc) == "Service") {
        let name = name_of(service);
        let selector = step(service, "spec.selector");
        let pods = selected(docs, namespace_of(service), selector);
        if pods.is_empty() {
            problems.push(format!(
                "Service {name} selects {selector:?}, which no pod template carries"
            ));
            continue;
        }
        for port in sequence(service, "spec.ports") {
            let target = port.at("targetPort").or_else(|| port.at("port"));
            for pod in &pods {
                if port_number(target, &containers(pod)).is_none() {
                    problems.push(format!(
                        "Service {name} targets {target:?}, which {} has no port for",
                        name_of(pod)
                    ));
                }
            }
        }
    }
    problems
}

/// The six services against the contract's ports: the container's port,
/// `/healthz` liveness and `/readyz` readiness on it, and a Service of the
/// same name publishing it (the URLs are `http://<service>:<port>`).
fn contract_port_problems(docs: &[Yaml]) -> Vec<String> {
    let mut problems = Vec::new();
    for (service, port, _) in RUST_SERVICES {
        let Some(deployment) = find(docs, "Deployment", service) else {
            problems.push(format!("no Deployment {service}"));
            continue;
        };
        let containers = containers(deployment);
        let declared: Vec<u64> = containers
            .iter()
            .flat_map(|container| sequence(container, "ports"))
            .filter_map(|declared| declared.at("containerPort").and_then(Yaml::as_u64))
            .collect();
        if !declared.contains(&u64::from(port)) {
            problems.push(format!(
                "{service} declares ports {declared:?}, the contract's is {port}"
            ));
        }
        for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
            let http = step(
                deployment,
                &format!("spec.template.spec.containers.0.{probe}.httpGet"),
            );
            let probed_path = http.and_then(|http| http.str_at("path"));
            let probed_port = port_number(http.and_then(|http| http.at("port")), &containers);
            if probed_path != Some(path) || probed_port != Some(u64::from(port)) {
                problems.push(format!(
                    "{service} {probe}: GET {probed_path:?} on {probed_port:?}, the contract says {path} on {port}"
                ));
            }
        }
        let Some(published) = find(docs, "Service", service) else {
            problems.push(format!("no Service {service}"));
            continue;
        };
        let reaches = sequence(published, "spec.ports").iter().any(|declared| {
            declared.at("port").and_then(Yaml::as_u64) == Some(u64::from(port))
                && port_number(
                    declared.at("targetPort").or_else(|| declared.at("port")),
                    &containers,
                ) == Some(u64::from(port))
        });
        if !reaches {
            problems.push(format!(
                "Service {service} does not publish {port} to the container's {port}"
            ));
        }
    }
    problems
}

/// Each workload named as a compose service against compose's environment:
/// every variable compose sets, with compose's value (Secrets decoded). The
/// six services get exactly compose's variables; the third-party images
/// may need more (Postgres's PGDATA, the Collector's GOMEMLIMIT).
fn environment_problems(docs: &[Yaml], compose: &Yaml) -> Vec<String> {
    let mut problems = Vec::new();
    for (service, _, _) in RUST_SERVICES {
        if workload(docs, service).is_none() {
            problems.push(format!("no workload {service}"));
        }
    }
    for workload in workloads(docs) {
        let service = compose_service(name_of(workload));
        if compose.at(&format!("services.{service}")).is_none() {
            continue;
        }
        let wanted = compose_env(compose, service);
        let found = container_env(docs, workload);
        for (variable, value) in &wanted {
            match found.get(variable) {
                None => problems.push(format!(
                    "{service}: {variable} is missing (compose sets {value})"
                )),
                Some(Ok(found)) if found == value => {}
                Some(found) => problems.push(format!(
                    "{service}: {variable} is {found:?}, compose sets {value}"
                )),
            }
        }
        if RUST_SERVICES.iter().any(|(name, _, _)| *name == service) {
            // The pod's identity, which compose has no equivalent of (there
            // the SDK makes each process a UUID): tests/instances.rs.
            let pod_only = ["POD_NAMESPACE", "POD_NAME", "OTEL_RESOURCE_ATTRIBUTES"];
            for variable in found
                .keys()
                .filter(|variable| !wanted.contains_key(*variable))
                .filter(|variable| !pod_only.contains(&variable.as_str()))
            {
                problems.push(format!("{service}: {variable} is not in compose"));
            }
        }
    }
    problems
}

/// Every workload: probes, requests and limits, a locked-down security
/// context (the pod's settings count where the container has none), and no
/// service account token.
fn hardening_problems(docs: &[Yaml]) -> Vec<String> {
    let mut problems = Vec::new();
    for workload in workloads(docs) {
        let name = format!("{} {}", kind_of(workload), name_of(workload));
        let pod = step(workload, "spec.template.spec").unwrap_or(&Yaml::Null);
        if pod
            .at("automountServiceAccountToken")
            .and_then(Yaml::as_bool)
            != Some(false)
        {
            problems.push(format!("{name}: mounts a service account token"));
        }
        let is_rust_service = RUST_SERVICES
            .iter()
            .any(|(service, _, _)| *service == name_of(workload));
        for (index, container) in sequence(pod, "containers").iter().enumerate() {
            let container_name = format!("{name} container {index}");
            for probe in ["livenessProbe", "readinessProbe"] {
                if container.at(probe).is_none() {
                    problems.push(format!("{container_name}: no {probe}"));
                }
            }
            for resource in [
                "requests.cpu",
                "requests.memory",
                "limits.cpu",
                "limits.memory",
            ] {
                if step(container, &format!("resources.{resource}")).is_none() {
                    problems.push(format!("{container_name}: no resources.{resource}"));
                }
            }
            let setting = |field: &str| {
                step(container, &format!("securityContext.{field}"))
                    .or_else(|| step(pod, &format!("securityContext.{field}")))
            };
            let own = |field: &str| step(container, &format!("securityContext.{field}"));
            if setting("runAsNonRoot").and_then(Yaml::as_bool) != Some(true) {
                problems.push(format!("{container_name}: runAsNonRoot is not true"));
            }
            let user = setting("runAsUser").and_then(Yaml::as_u64);
            let wanted_user = if is_rust_service {
                user == Some(10001)
            } else {
                user.is_some_and(|user| user != 0)
            };
            if !wanted_user {
                problems.push(format!(
                    "{container_name}: runAsUser {user:?} (the services' images run as 10001)"
                ));
            }
            if own("readOnlyRootFilesystem").and_then(Yaml::as_bool) != Some(true) {
                problems.push(format!("{container_name}: root filesystem writable"));
            }
            if own("allowPrivilegeEscalation").and_then(Yaml::as_bool) != Some(false) {
                problems.push(format!("{container_name}: privilege escalation allowed"));
            }
            if !own("capabilities.drop")
                .and_then(Yaml::as_sequence)
                .is_some_and(|dropped| dropped.iter().any(|cap| cap.as_str() == Some("ALL")))
            {
                problems.push(format!("{container_name}: capabilities not dropped (ALL)"));
            }
            if setting("seccompProfile.type").and_then(Yaml::as_str) != Some("RuntimeDefault") {
                problems.push(format!(
                    "{container_name}: no RuntimeDefault seccomp profile"
                ));
            }
        }
    }
    problems
}

/// The gateway: a `PodDisruptionBudget` over its pods and a CPU
/// `HorizontalPodAutoscaler` (`autoscaling/v2`) that owns its replica count.
fn gateway_scaling_problems(docs: &[Yaml]) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(gateway) = find(docs, "Deployment", "gateway") else {
        return vec!["no Deployment gateway".to_owned()];
    };
    let labels = step(gateway, "spec.template.metadata.labels");
    let budget = docs.iter().find(|doc| {
        kind_of(doc) == "PodDisruptionBudget"
            && selects(step(doc, "spec.selector.matchLabels"), labels)
    });
    match budget {
        None => problems.push("no PodDisruptionBudget selects the gateway's pods".to_owned()),
        Some(budget) => {
            if budget.str_at("apiVersion") != Some("policy/v1") {
                problems.push("the gateway's PodDisruptionBudget is not policy/v1".to_owned());
            }
            if step(budget, "spec.minAvailable").is_none()
                && step(budget, "spec.maxUnavailable").is_none()
            {
                problems.push("the gateway's PodDisruptionBudget sets no budget".to_owned());
            }
        }
    }
    let autoscaler = docs.iter().find(|doc| {
        kind_of(doc) == "HorizontalPodAutoscaler"
            && step(doc, "spec.scaleTargetRef.kind").and_then(Yaml::as_str) == Some("Deployment")
            && step(doc, "spec.scaleTargetRef.name").and_then(Yaml::as_str) == Some("gateway")
    });
    let Some(autoscaler) = autoscaler else {
        problems.push("no HorizontalPodAutoscaler scales the gateway".to_owned());
        return problems;
    };
    if autoscaler.str_at("apiVersion") != Some("autoscaling/v2") {
        problems.push("the gateway's HorizontalPodAutoscaler is not autoscaling/v2".to_owned());
    }
    let on_cpu = sequence(autoscaler, "spec.metrics").iter().any(|metric| {
        metric.str_at("type") == Some("Resource")
            && step(metric, "resource.name").and_then(Yaml::as_str) == Some("cpu")
    });
    if !on_cpu {
        problems.push("the gateway's HorizontalPodAutoscaler does not scale on CPU".to_owned());
    }
    let min = step(autoscaler, "spec.minReplicas").and_then(Yaml::as_u64);
    let max = step(autoscaler, "spec.maxReplicas").and_then(Yaml::as_u64);
    if !(min >= Some(2) && max > min) {
        problems.push(format!(
            "the gateway scales from {min:?} to {max:?}: at least 2, and room to grow"
        ));
    }
    let min_available = budget
        .and_then(|budget| step(budget, "spec.minAvailable"))
        .and_then(Yaml::as_u64);
    if let (Some(min_available), Some(min)) = (min_available, min)
        && min_available >= min
    {
        problems.push(format!(
            "the budget keeps {min_available} of {min} gateways: no node could be drained"
        ));
    }
    if step(gateway, "spec.replicas").is_some() {
        problems
            .push("the gateway's Deployment sets replicas, which the autoscaler owns".to_owned());
    }
    problems
}

/// Images without an exact version: no tag, `latest`, or (but for the
/// suite's own images, built from this repository) a tag that is not
/// numbers. A digest pins too.
fn unpinned_images(docs: &[Yaml]) -> Vec<String> {
    let mut problems = Vec::new();
    for workload in workloads(docs) {
        for container in containers(workload) {
            let image = container.str_at("image").unwrap_or_default();
            if image.contains("@sha256:") {
                continue;
            }
            let last = image.rsplit('/').next().unwrap_or_default();
            let Some((_, tag)) = last.split_once(':') else {
                problems.push(format!("{}: {image:?} has no tag", name_of(workload)));
                continue;
            };
            let exact = stack_check::is_exact_version(tag);
            if tag == "latest" || !(exact || image.starts_with("tracing-suite/")) {
                problems.push(format!(
                    "{}: {image} is not pinned to an exact version",
                    name_of(workload)
                ));
            }
        }
    }
    problems
}

/// What compose runs each workload with: the same image, the same
/// arguments, the entrypoint kept, and every file compose mounts found at
/// the same path in the pod with the same content (the Collector's tiers as
/// compose's `sampling` profile runs them).
fn configuration_problems(docs: &[Yaml], compose: &Yaml) -> Vec<String> {
    let repo = Repo::default();
    let mut problems = Vec::new();
    for workload in workloads(docs) {
        let name = name_of(workload);
        let service = compose_service(name);
        let Some(image) = compose.str_at(&format!("services.{service}.image")) else {
            problems.push(format!("{name} is not a compose service"));
            continue;
        };
        let container = step(workload, "spec.template.spec.containers.0").unwrap_or(&Yaml::Null);
        if container.str_at("image") != Some(image) {
            problems.push(format!(
                "{name}: image {:?}, compose runs {image}",
                container.str_at("image")
            ));
        }
        if container.at("command").is_some() {
            problems.push(format!("{name}: `command` replaces the image's entrypoint"));
        }
        let wanted_args = compose.strings_at(&format!("services.{service}.command"));
        let args = container.strings_at("args");
        if args != wanted_args {
            problems.push(format!(
                "{name}: args {args:?}, compose passes {wanted_args:?}"
            ));
        }
        for volume in compose.strings_at(&format!("services.{service}.volumes")) {
            let mut parts = volume.split(':');
            let (Some(source), Some(target)) = (parts.next(), parts.next()) else {
                continue;
            };
            let Some(source) = source.strip_prefix("./") else {
                continue;
            };
            let files = if repo.path(source).is_dir() {
                repo.files_under(source).unwrap()
            } else {
                vec![source.to_owned()]
            };
            // promtool's unit tests of the rules (prometheus-rules/tests/)
            // ride along in compose's folder mount, but Prometheus loads
            // only rules/*.yaml: they are no configuration to copy.
            for file in files.into_iter().filter(|file| !file.contains("/tests/")) {
                let inside = format!("{target}{}", &file[source.len()..]);
                let wanted = repo.text(&file).unwrap();
                match file_in_pod(docs, workload, &inside) {
                    Some(text) if text == wanted => {}
                    Some(_) => problems.push(format!("{name}: {inside} differs from {file}")),
                    None => problems.push(format!("{name}: no {inside} (compose mounts {file})")),
                }
            }
        }
    }
    problems
}

/// The Collector's tiers: the agents behind the Service the services
/// export to, the samplers behind a headless Service, two of each, probed
/// on the `health_check` extension their configuration enables, and the
/// agents' loadbalancing exporter resolving the samplers' Service.
fn collector_problems(docs: &[Yaml]) -> Vec<String> {
    let repo = Repo::default();
    let mut problems = Vec::new();
    let expectations = [
        ("Deployment", "otel-collector", &[4317_u64, 4318][..], false),
        ("StatefulSet", "otel-sampler", &[4317_u64][..], true),
    ];
    for ((kind, name, ports, headless), (_, file)) in expectations.into_iter().zip(COLLECTOR_TIERS)
    {
        let Some(workload) = find(docs, kind, name) else {
            problems.push(format!("no {kind} {name}"));
            continue;
        };
        if step(workload, "spec.replicas").and_then(Yaml::as_u64) != Some(2) {
            problems.push(format!("{name}: not 2 replicas"));
        }
        let Some(service) = find(docs, "Service", name) else {
            problems.push(format!("no Service {name}"));
            continue;
        };
        let published: Vec<u64> = sequence(service, "spec.ports")
            .iter()
            .filter_map(|port| port.at("port").and_then(Yaml::as_u64))
            .collect();
        if !ports.iter().all(|port| published.contains(port)) {
            problems.push(format!(
                "Service {name} publishes {published:?}, not {ports:?}"
            ));
        }
        let is_headless = step(service, "spec.clusterIP").and_then(Yaml::as_str) == Some("None");
        if is_headless != headless {
            problems.push(format!("Service {name}: headless is {is_headless}"));
        }
        if kind == "StatefulSet"
            && step(workload, "spec.serviceName").and_then(Yaml::as_str) != Some(name)
        {
            problems.push(format!("{name}: not governed by its headless Service"));
        }
        let config = repo.yaml(file).unwrap();
        let enabled = config.strings_at("service.extensions");
        let Some(extension) = enabled
            .iter()
            .find(|extension| extension.split('/').next() == Some("health_check"))
        else {
            problems.push(format!(
                "{file} enables no health_check extension for the probes"
            ));
            continue;
        };
        let settings = config.at(&format!("extensions.{extension}"));
        let health_port = settings
            .and_then(|settings| settings.str_at("endpoint"))
            .and_then(|endpoint| endpoint.rsplit(':').next())
            .and_then(|port| port.parse().ok())
            .unwrap_or(HEALTH_CHECK_PORT);
        let health_path = settings
            .and_then(|settings| settings.str_at("path"))
            .unwrap_or(HEALTH_CHECK_PATH);
        let containers = containers(workload);
        for probe in ["livenessProbe", "readinessProbe"] {
            let http = step(
                workload,
                &format!("spec.template.spec.containers.0.{probe}.httpGet"),
            );
            let port = port_number(http.and_then(|http| http.at("port")), &containers);
            let path = http.and_then(|http| http.str_at("path"));
            if port != Some(health_port) || path != Some(health_path) {
                problems.push(format!(
                    "{name} {probe}: GET {path:?} on {port:?}, health_check serves {health_path} on {health_port}"
                ));
            }
        }
    }
    // The agents find the samplers by the headless Service's name, through
    // DNS: the `k8s` resolver would need API access, which no pod here has.
    // The exporter is `load_balancing` since 0.153.0, `loadbalancing` before.
    let (_, agent_file) = COLLECTOR_TIERS[0];
    let agent = repo.yaml(agent_file).unwrap();
    let resolves_samplers = agent
        .at("exporters")
        .and_then(Yaml::as_mapping)
        .into_iter()
        .flatten()
        .filter(|(key, _)| {
            key.as_str().is_some_and(|key| {
                matches!(
                    key.split('/').next(),
                    Some("load_balancing" | "loadbalancing")
                )
            })
        })
        .filter_map(|(_, exporter)| exporter.str_at("resolver.dns.hostname"))
        .any(|host| host == "otel-sampler" || host.starts_with("otel-sampler."));
    if !resolves_samplers {
        problems.push(format!(
            "{agent_file}: no loadbalancing exporter resolves otel-sampler by DNS"
        ));
    }
    problems
}

// ---------------------------------------------------------------------------
// The overlay passes every check

#[test]
fn every_service_selects_pods_that_have_its_ports() {
    assert_eq!(services_without_pods(&rendered()), Vec::<String>::new());
}

#[test]
fn the_services_listen_and_are_probed_on_the_contract_ports() {
    assert_eq!(contract_port_problems(&rendered()), Vec::<String>::new());
}

#[test]
fn every_workload_gets_composes_environment_with_secrets_from_a_secret() {
    assert_eq!(
        environment_problems(&rendered(), &compose()),
        Vec::<String>::new()
    );
}

#[test]
fn every_workload_is_probed_sized_and_locked_down() {
    assert_eq!(hardening_problems(&rendered()), Vec::<String>::new());
}

#[test]
fn the_gateway_has_a_disruption_budget_and_a_cpu_autoscaler() {
    assert_eq!(gateway_scaling_problems(&rendered()), Vec::<String>::new());
}

#[test]
fn every_image_is_pinned() {
    assert_eq!(unpinned_images(&rendered()), Vec::<String>::new());
}

#[test]
fn every_workload_runs_composes_image_flags_and_files() {
    assert_eq!(
        configuration_problems(&rendered(), &compose()),
        Vec::<String>::new()
    );
}

#[test]
fn the_collector_runs_two_tiers_of_two_probed_on_their_health_check() {
    assert_eq!(collector_problems(&rendered()), Vec::<String>::new());
}

/// The `DATABASE_URL`s hold the demo password: they come from a Secret, never
/// from a plain value in a manifest.
#[test]
fn database_urls_and_the_postgres_password_come_from_secrets() {
    let docs = rendered();
    let names = RUST_SERVICES
        .iter()
        .filter(|(_, _, owns_database)| *owns_database)
        .map(|(service, _, _)| (*service, "DATABASE_URL"))
        .chain([("postgres", "POSTGRES_PASSWORD")]);
    for (service, variable) in names {
        let workload = workload(&docs, service).unwrap();
        let entry = sequence(workload, "spec.template.spec.containers.0.env")
            .iter()
            .find(|entry| entry.str_at("name") == Some(variable))
            .unwrap_or_else(|| panic!("{service}: no {variable}"));
        assert!(
            step(entry, "valueFrom.secretKeyRef").is_some(),
            "{service}: {variable} from a Secret"
        );
    }
}

// ---------------------------------------------------------------------------
// Each check catches the breakage it is for

fn set(doc: &mut Yaml, path: &str, value: Yaml) {
    *step_mut(doc, path) = value;
}

/// Sets `key` (which may hold dots, as label names do) in the mapping at
/// `path`.
fn set_key(doc: &mut Yaml, path: &str, key: &str, value: Yaml) {
    step_mut(doc, path)
        .as_mapping_mut()
        .unwrap()
        .insert(key.into(), value);
}

fn remove(doc: &mut Yaml, path: &str, key: &str) {
    step_mut(doc, path)
        .as_mapping_mut()
        .unwrap()
        .remove(key)
        .unwrap_or_else(|| panic!("no {key} at {path}"));
}

fn remove_env(doc: &mut Yaml, variable: &str) {
    let env = step_mut(doc, "spec.template.spec.containers.0.env")
        .as_sequence_mut()
        .unwrap();
    let before = env.len();
    env.retain(|entry| entry.str_at("name") != Some(variable));
    assert_eq!(env.len(), before - 1, "{variable}");
}

/// `problems` are as many as `expected`, and each expected phrase is in one
/// of them.
fn assert_caught(problems: &[String], expected: &[&str]) {
    assert_eq!(problems.len(), expected.len(), "{problems:#?}");
    for wanted in expected {
        assert!(
            problems.iter().any(|problem| problem.contains(wanted)),
            "nothing says {wanted:?}: {problems:#?}"
        );
    }
}

#[test]
fn a_service_selecting_no_pod_is_caught() {
    let mut docs = rendered();
    let users = find_mut(&mut docs, "Service", "users");
    set_key(
        users,
        "spec.selector",
        "app.kubernetes.io/name",
        "user".into(),
    );
    let orders = find_mut(&mut docs, "Service", "orders");
    set(orders, "spec.ports.0.targetPort", "web".into());
    assert_caught(
        &services_without_pods(&docs),
        &["Service orders targets", "Service users selects"],
    );
}

#[test]
fn a_port_or_probe_off_the_contract_is_caught() {
    let mut docs = rendered();
    let orders = find_mut(&mut docs, "Deployment", "orders");
    set(
        orders,
        "spec.template.spec.containers.0.ports.0.containerPort",
        9082.into(),
    );
    let payments = find_mut(&mut docs, "Deployment", "payments");
    set(
        payments,
        "spec.template.spec.containers.0.readinessProbe.httpGet.path",
        "/healthz".into(),
    );
    let card_processor = find_mut(&mut docs, "Deployment", "card-processor");
    set(
        card_processor,
        "spec.template.spec.containers.0.livenessProbe.httpGet.port",
        8080.into(),
    );
    assert_caught(
        &contract_port_problems(&docs),
        &[
            "orders declares ports [9082]",
            "orders livenessProbe",
            "orders readinessProbe",
            "Service orders does not publish 8082",
            "payments readinessProbe",
            "card-processor livenessProbe",
        ],
    );
}

#[test]
fn a_variable_missing_changed_or_added_is_caught() {
    let mut docs = rendered();
    remove_env(find_mut(&mut docs, "Deployment", "users"), "NATS_URL");
    let gateway = find_mut(&mut docs, "Deployment", "gateway");
    let users_url = step_mut(gateway, "spec.template.spec.containers.0.env")
        .as_sequence_mut()
        .unwrap()
        .iter_mut()
        .find(|variable| variable.str_at("name") == Some("USERS_URL"))
        .unwrap();
    set(users_url, "value", "http://users.example:8081".into());
    remove_env(
        find_mut(&mut docs, "StatefulSet", "postgres"),
        "POSTGRES_PASSWORD",
    );
    let orders = find_mut(&mut docs, "Deployment", "orders");
    step_mut(orders, "spec.template.spec.containers.0.env")
        .as_sequence_mut()
        .unwrap()
        .push(serde_yaml_ng::from_str("{name: OTEL_TRACES_SAMPLER, value: always_off}").unwrap());
    let secret = docs
        .iter_mut()
        .find(|doc| kind_of(doc) == "Secret" && name_of(doc).starts_with("database-urls"))
        .unwrap();
    let wrong = base64::engine::general_purpose::STANDARD
        .encode("postgres://postgres:postgres@localhost:5432/payments");
    set(secret, "data.payments", wrong.into());
    assert_caught(
        &environment_problems(&docs, &compose()),
        &[
            "postgres: POSTGRES_PASSWORD is missing",
            "payments: DATABASE_URL is",
            "users: NATS_URL is missing",
            "orders: OTEL_TRACES_SAMPLER is not in compose",
            "gateway: USERS_URL is",
        ],
    );
}

#[test]
fn a_workload_without_probes_resources_or_lockdown_is_caught() {
    let mut docs = rendered();
    let notifications = find_mut(&mut docs, "Deployment", "notifications");
    remove(
        notifications,
        "spec.template.spec.containers.0",
        "livenessProbe",
    );
    let card_processor = find_mut(&mut docs, "Deployment", "card-processor");
    remove(
        card_processor,
        "spec.template.spec.containers.0.resources",
        "limits",
    );
    let gateway = find_mut(&mut docs, "Deployment", "gateway");
    set(
        gateway,
        "spec.template.spec.containers.0.securityContext.readOnlyRootFilesystem",
        false.into(),
    );
    remove(
        gateway,
        "spec.template.spec.containers.0.securityContext",
        "capabilities",
    );
    remove(
        gateway,
        "spec.template.spec",
        "automountServiceAccountToken",
    );
    let users = find_mut(&mut docs, "Deployment", "users");
    set(
        users,
        "spec.template.spec.containers.0.securityContext.runAsUser",
        1000.into(),
    );
    remove(
        users,
        "spec.template.spec.securityContext",
        "seccompProfile",
    );
    let grafana = find_mut(&mut docs, "Deployment", "grafana");
    remove(
        grafana,
        "spec.template.spec.containers.0.securityContext",
        "runAsNonRoot",
    );
    remove(
        grafana,
        "spec.template.spec.securityContext",
        "runAsNonRoot",
    );
    set(
        grafana,
        "spec.template.spec.containers.0.securityContext.allowPrivilegeEscalation",
        true.into(),
    );
    assert_caught(
        &hardening_problems(&docs),
        &[
            "Deployment card-processor container 0: no resources.limits.cpu",
            "Deployment card-processor container 0: no resources.limits.memory",
            "Deployment gateway container 0: capabilities not dropped",
            "Deployment gateway container 0: root filesystem writable",
            "Deployment gateway: mounts a service account token",
            "Deployment grafana container 0: privilege escalation allowed",
            "Deployment grafana container 0: runAsNonRoot is not true",
            "Deployment notifications container 0: no livenessProbe",
            "Deployment users container 0: no RuntimeDefault seccomp profile",
            "Deployment users container 0: runAsUser Some(1000)",
        ],
    );
}

#[test]
fn a_gateway_without_its_budget_or_autoscaler_is_caught() {
    let mut docs = rendered();
    docs.retain(|doc| kind_of(doc) != "PodDisruptionBudget");
    assert_caught(
        &gateway_scaling_problems(&docs),
        &["no PodDisruptionBudget"],
    );
    docs.retain(|doc| kind_of(doc) != "HorizontalPodAutoscaler");
    assert_caught(
        &gateway_scaling_problems(&docs),
        &["no PodDisruptionBudget", "no HorizontalPodAutoscaler"],
    );

    let mut docs = rendered();
    let autoscaler = find_mut(&mut docs, "HorizontalPodAutoscaler", "gateway");
    set(autoscaler, "spec.metrics.0.resource.name", "memory".into());
    set(autoscaler, "spec.minReplicas", 1.into());
    set_key(
        find_mut(&mut docs, "Deployment", "gateway"),
        "spec",
        "replicas",
        2.into(),
    );
    assert_caught(
        &gateway_scaling_problems(&docs),
        &[
            "does not scale on CPU",
            "scales from Some(1)",
            "the budget keeps 1 of 1",
            "sets replicas",
        ],
    );
}

#[test]
fn an_unpinned_image_is_caught() {
    let mut docs = rendered();
    let image = "spec.template.spec.containers.0.image";
    set(
        find_mut(&mut docs, "Deployment", "grafana"),
        image,
        "grafana/grafana:latest".into(),
    );
    set(
        find_mut(&mut docs, "StatefulSet", "tempo"),
        image,
        "grafana/tempo".into(),
    );
    set(
        find_mut(&mut docs, "StatefulSet", "nats"),
        image,
        "nats:alpine".into(),
    );
    set(
        find_mut(&mut docs, "Deployment", "gateway"),
        image,
        "tracing-suite/gateway".into(),
    );
    set(
        find_mut(&mut docs, "StatefulSet", "loki"),
        image,
        "grafana/loki@sha256:0000000000000000000000000000000000000000000000000000000000000000"
            .into(),
    );
    assert_caught(
        &unpinned_images(&docs),
        &[
            "gateway: \"tracing-suite/gateway\" has no tag",
            "grafana: grafana/grafana:latest",
            "nats: nats:alpine",
            "tempo: \"grafana/tempo\" has no tag",
        ],
    );
}

#[test]
fn a_workload_configured_unlike_compose_is_caught() {
    let mut docs = rendered();
    let tempo = find_mut(&mut docs, "StatefulSet", "tempo");
    set(
        tempo,
        "spec.template.spec.containers.0.args.0",
        "-target=distributor".into(),
    );
    let prometheus_rules = docs
        .iter_mut()
        .find(|doc| kind_of(doc) == "ConfigMap" && name_of(doc).starts_with("prometheus-rules"))
        .unwrap();
    set_key(
        prometheus_rules,
        "data",
        "checkout-slo.yaml",
        "groups: []\n".into(),
    );
    let grafana = find_mut(&mut docs, "Deployment", "grafana");
    set(
        grafana,
        "spec.template.spec.containers.0.volumeMounts.0.mountPath",
        "/etc/grafana/datasources".into(),
    );
    set(
        find_mut(&mut docs, "StatefulSet", "loki"),
        "spec.template.spec.containers.0.image",
        "grafana/loki:3.6.2".into(),
    );
    assert_caught(
        &configuration_problems(&docs, &compose()),
        &[
            "grafana: no /etc/grafana/provisioning/datasources/datasources.yaml",
            "loki: image",
            "prometheus: /etc/prometheus/rules/checkout-slo.yaml differs",
            "tempo: args",
        ],
    );
}

#[test]
fn a_collector_tier_unlike_the_design_is_caught() {
    let mut docs = rendered();
    let sampler = find_mut(&mut docs, "Service", "otel-sampler");
    remove(sampler, "spec", "clusterIP");
    set(
        find_mut(&mut docs, "Deployment", "otel-collector"),
        "spec.replicas",
        1.into(),
    );
    let agent = find_mut(&mut docs, "Deployment", "otel-collector");
    set(
        agent,
        "spec.template.spec.containers.0.readinessProbe.httpGet.port",
        8888.into(),
    );
    assert_caught(
        &collector_problems(&docs),
        &[
            "otel-collector: not 2 replicas",
            "otel-collector readinessProbe",
            "Service otel-sampler: headless is false",
        ],
    );
}
