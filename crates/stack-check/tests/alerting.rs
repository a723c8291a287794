//! Every alert can reach someone: Prometheus sends its alerts to an
//! Alertmanager that compose and Kubernetes run, pinned; `amtool` accepts
//! `alertmanager.yaml` and routes every severity the rules use to a
//! receiver of its own; and a rule that fires in a real Prometheus is seen
//! arriving at a real Alertmanager, at that receiver (Debian's 2.42 and
//! 0.25, on loopback).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed check is a panic with the reason in its message"
)]

use std::{
    collections::BTreeSet,
    path::Path,
    process::{Child, Stdio},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use stack_check::{
    Json, Repo, Yaml, YamlExt,
    prometheus::{self, Labels, OpenMetrics, Server, TempDir},
    queries,
};

const CONFIG: &str = "alertmanager.yaml";

/// The `host:port` Prometheus sends alerts to.
fn alertmanager_targets() -> Vec<String> {
    let config = Repo::default().yaml("prometheus.yaml").unwrap();
    let managers = config
        .at("alerting.alertmanagers")
        .and_then(Yaml::as_sequence);
    (managers.into_iter().flatten())
        .filter_map(|manager| manager.at("static_configs").and_then(Yaml::as_sequence))
        .flatten()
        .flat_map(|targets| targets.strings_at("targets"))
        .collect()
}

/// Every severity label an alert of the stack carries: the Prometheus
/// rules' and the Grafana-managed ones'.
fn severities() -> BTreeSet<String> {
    let repo = Repo::default();
    let mut found = BTreeSet::new();
    for file in queries::rule_files(&repo).unwrap() {
        let rules = repo.yaml(&file).unwrap();
        let groups = rules.at("groups").and_then(Yaml::as_sequence).unwrap();
        for rule in groups
            .iter()
            .filter_map(|group| group.at("rules").and_then(Yaml::as_sequence))
            .flatten()
        {
            found.extend(rule.str_at("labels.severity").map(str::to_owned));
        }
    }
    let grafana = repo.yaml(queries::GRAFANA_ALERTS).unwrap();
    let groups = grafana.at("groups").and_then(Yaml::as_sequence).unwrap();
    for rule in groups
        .iter()
        .filter_map(|group| group.at("rules").and_then(Yaml::as_sequence))
        .flatten()
    {
        found.extend(rule.str_at("labels.severity").map(str::to_owned));
    }
    found
}

#[test]
fn prometheus_sends_alerts_to_the_alertmanager_compose_and_kubernetes_run() {
    let targets = alertmanager_targets();
    assert!(
        !targets.is_empty(),
        "prometheus.yaml has no `alerting:` target"
    );
    let compose = Repo::default().compose().unwrap();
    for target in targets {
        let (host, port) = target.split_once(':').expect("host:port");
        let image = compose
            .str_at(&format!("services.{host}.image"))
            .unwrap_or_else(|| panic!("{target}: no compose service {host}"));
        let (repository, tag) = image.split_once(':').unwrap();
        assert_eq!(repository, "prom/alertmanager", "{host} runs {image}");
        assert!(stack_check::is_exact_version(tag), "{image} is not pinned");
        assert_eq!(port, "9093");
        // Mounted where it is told to read it.
        let volumes = compose.strings_at(&format!("services.{host}.volumes"));
        assert!(
            volumes
                .iter()
                .any(|volume| volume.starts_with(&format!("./{CONFIG}:"))),
            "{host} mounts no {CONFIG}: {volumes:?}"
        );
        // A person sees it fire: its UI, on this machine only.
        let ports = compose.strings_at(&format!("services.{host}.ports"));
        assert!(
            ports.iter().any(|port| port == "127.0.0.1:9093:9093"),
            "{host} publishes {ports:?}"
        );
    }
}

/// Kubernetes runs it too, under the same name and port (its image, flags
/// and file are compose's: `tests/kubernetes.rs` holds every workload to
/// that).
#[test]
fn kubernetes_runs_the_alertmanager_prometheus_sends_to() {
    let documents = Repo::default()
        .kustomize("deploy/kubernetes/overlays/kind")
        .unwrap();
    for target in alertmanager_targets() {
        let (host, port) = target.split_once(':').unwrap();
        let named = |kind: &str| {
            documents.iter().any(|doc| {
                doc.str_at("kind") == Some(kind) && doc.str_at("metadata.name") == Some(host)
            })
        };
        assert!(
            named("StatefulSet") || named("Deployment"),
            "no workload {host}"
        );
        let service = (documents.iter())
            .find(|doc| {
                doc.str_at("kind") == Some("Service") && doc.str_at("metadata.name") == Some(host)
            })
            .unwrap_or_else(|| panic!("no Service {host}"));
        let ports = service
            .at("spec.ports")
            .and_then(Yaml::as_sequence)
            .unwrap();
        assert!(
            ports.iter().any(|entry| entry
                .at("port")
                .and_then(Yaml::as_u64)
                .map(|p| p.to_string())
                .as_deref()
                == Some(port)),
            "Service {host} does not publish {port}"
        );
    }
}

#[test]
fn amtool_accepts_the_alertmanager_configuration() {
    let path = Repo::default().path(CONFIG);
    prometheus::run("amtool", &["check-config", &path.to_string_lossy()]).unwrap();
}

/// A page and a ticket do not end in the same place, and none ends in the
/// catch-all: each severity has its route.
#[test]
fn every_severity_routes_to_a_receiver_of_its_own() {
    let path = Repo::default().path(CONFIG).to_string_lossy().into_owned();
    let config = Repo::default().yaml(CONFIG).unwrap();
    let fallback = config.str_at("route.receiver").unwrap().to_owned();
    let severities = severities();
    assert!(
        severities.contains("page") && severities.contains("ticket"),
        "{severities:?}"
    );
    let mut receivers = BTreeSet::new();
    for severity in &severities {
        let label = format!("severity={severity}");
        let answer = prometheus::run(
            "amtool",
            &["config", "routes", "test", "--config.file", &path, &label],
        )
        .unwrap();
        // The receiver's name is the first line (amtool warns on stderr).
        let receiver = answer.lines().next().unwrap_or_default().trim().to_owned();
        assert_ne!(
            receiver, fallback,
            "{label} reaches only the catch-all route"
        );
        receivers.insert((severity.clone(), receiver));
    }
    let page = receivers
        .iter()
        .find(|(severity, _)| severity == "page")
        .unwrap();
    let ticket = receivers
        .iter()
        .find(|(severity, _)| severity == "ticket")
        .unwrap();
    assert_ne!(page.1, ticket.1, "pages and tickets go to one receiver");
}

/// An Alertmanager on loopback with the stack's configuration, stopped by
/// its pid when dropped.
struct Alertmanager {
    child: Child,
    address: std::net::SocketAddr,
}

impl Alertmanager {
    fn start(folder: &Path) -> Self {
        let address = prometheus::free_loopback_address().unwrap();
        let log = std::fs::File::create(folder.join("alertmanager.log")).unwrap();
        let child = prometheus::command("prometheus-alertmanager")
            .unwrap()
            .arg(format!(
                "--config.file={}",
                Repo::default().path(CONFIG).display()
            ))
            .arg(format!(
                "--storage.path={}",
                folder.join("alertmanager").display()
            ))
            .arg(format!("--web.listen-address={address}"))
            // One instance: no gossip port, no peers.
            .arg("--cluster.listen-address=")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut manager = Self { child, address };
        let deadline = Instant::now() + Duration::from_secs(20);
        while prometheus::get(address, "/-/ready").is_err() {
            let log = || std::fs::read_to_string(folder.join("alertmanager.log")).unwrap();
            if let Some(status) = manager.child.try_wait().unwrap() {
                panic!("alertmanager exited ({status}):\n{}", log());
            }
            assert!(
                Instant::now() < deadline,
                "alertmanager never got ready:\n{}",
                log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        manager
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The gateway's `POST /checkout` over the last 7 hours, every 15 s: 2
/// checkouts/s, and for the last 15 minutes 10 % of them failing (a fast
/// burn: 2.5 % over the hour, 10 % over 5 minutes).
fn a_fast_burn_until(now_ms: i64) -> OpenMetrics {
    let mut series = OpenMetrics::default();
    let labels = |status: &str, error: bool| {
        let mut labels = Labels::from(
            [
                ("service_name", "gateway"),
                ("job", "gateway"),
                ("instance", "gateway-a"),
                ("http_route", "/checkout"),
                ("http_request_method", "POST"),
                ("http_response_status_code", status),
            ]
            .map(|(name, value)| (name.to_owned(), value.to_owned())),
        );
        if error {
            labels.insert("error_type".to_owned(), status.to_owned());
        }
        labels
    };
    let (ok, failed) = (labels("201", false), labels("503", true));
    let steps = 7 * 240;
    let burn_from = steps - 60;
    let (mut succeeded, mut errors) = (0.0, 0.0);
    for step in 0..=steps {
        let time = now_ms - i64::from(steps - step) * 15_000;
        if step > burn_from {
            succeeded += 27.0;
            errors += 3.0;
            series.sample(
                "http_server_request_duration_seconds_count",
                &failed,
                time,
                errors,
            );
        } else {
            succeeded += 30.0;
        }
        series.sample(
            "http_server_request_duration_seconds_count",
            &ok,
            time,
            succeeded,
        );
    }
    series
}

/// prometheus.yaml's `alerting:` pointed at `alertmanager`, and the SLO
/// rules with their groups evaluated every second (a copy: only the
/// `interval` differs), so the test waits seconds, not minutes.
fn test_configuration(folder: &Path, alertmanager: std::net::SocketAddr) -> std::path::PathBuf {
    let repo = Repo::default();
    let mut rule_paths = Vec::new();
    for file in queries::rule_files(&repo).unwrap() {
        let mut rules = repo.yaml(&file).unwrap();
        for group in rules
            .get_mut("groups")
            .and_then(Yaml::as_sequence_mut)
            .unwrap()
        {
            group
                .as_mapping_mut()
                .unwrap()
                .insert("interval".into(), "1s".into());
        }
        let path = folder.join(file.replace('/', "_"));
        std::fs::write(&path, serde_yaml_ng::to_string(&rules).unwrap()).unwrap();
        rule_paths.push(path.to_string_lossy().into_owned());
    }
    let stack = repo.yaml("prometheus.yaml").unwrap();
    let mut alerting = stack.at("alerting").cloned().expect("no `alerting:`");
    for manager in alerting
        .get_mut("alertmanagers")
        .and_then(Yaml::as_sequence_mut)
        .unwrap()
    {
        for targets in manager
            .get_mut("static_configs")
            .and_then(Yaml::as_sequence_mut)
            .unwrap()
        {
            targets
                .as_mapping_mut()
                .unwrap()
                .insert("targets".into(), vec![alertmanager.to_string()].into());
        }
    }
    let config: Yaml = serde_yaml_ng::from_str(&format!(
        "global: {{evaluation_interval: 1s}}\nrule_files: {}",
        serde_json::to_string(&rule_paths).unwrap()
    ))
    .unwrap();
    let mut config = config;
    config
        .as_mapping_mut()
        .unwrap()
        .insert("alerting".into(), alerting);
    let path = folder.join("prometheus.yaml");
    std::fs::write(&path, serde_yaml_ng::to_string(&config).unwrap()).unwrap();
    path
}

#[test]
fn a_firing_rule_arrives_at_the_alertmanager_at_its_severitys_receiver() {
    let folder = TempDir::new("stack-check-alerting").unwrap();
    let alertmanager = Alertmanager::start(folder.path());
    let data = folder.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let now_ms = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    a_fast_burn_until(now_ms - 5_000).backfill(&data).unwrap();
    let config = test_configuration(folder.path(), alertmanager.address);
    // The first alert can be evaluated before the Alertmanager is
    // discovered, and is then dropped; the resend (1 min by default)
    // comes within a second here.
    let prometheus = Server::start(&config, &data, &["--rules.alert.resend-delay=1s"]).unwrap();

    let expected = prometheus::run(
        "amtool",
        &[
            "config",
            "routes",
            "test",
            "--config.file",
            &Repo::default().path(CONFIG).to_string_lossy(),
            "severity=page",
        ],
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_mins(1);
    loop {
        let body = prometheus::get(alertmanager.address, "/api/v2/alerts").unwrap();
        let alerts: Json = serde_json::from_str(&body).unwrap();
        let arrived = alerts
            .as_array()
            .unwrap()
            .iter()
            .find(|alert| alert["labels"]["alertname"] == "CheckoutAvailabilityBudgetBurnFast");
        if let Some(alert) = arrived {
            let receivers: Vec<&str> = (alert["receivers"].as_array().unwrap().iter())
                .filter_map(|receiver| receiver["name"].as_str())
                .collect();
            assert_eq!(
                receivers,
                [expected.lines().next().unwrap().trim()],
                "{alert}"
            );
            assert_eq!(alert["labels"]["severity"], "page");
            return;
        }
        if Instant::now() >= deadline {
            let log = |path: &Path| std::fs::read_to_string(path).unwrap_or_default();
            panic!(
                "no CheckoutAvailabilityBudgetBurnFast at the Alertmanager within a minute: {body}\n\
                 Prometheus's alerts: {:?}\nits Alertmanagers: {:?}\n{}\n{}",
                prometheus.api("/api/v1/alerts", &[]),
                prometheus.api("/api/v1/alertmanagers", &[]),
                log(&data.with_extension("log")),
                log(&folder.path().join("alertmanager.log")),
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}
