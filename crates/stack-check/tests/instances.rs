//! Every process is its own series. Prometheus's OTLP receiver makes
//! `instance` of `service.instance.id`; without one, two gateways (the
//! autoscaler keeps at least two) write the same series and `rate()` reads
//! their interleaved counters as resets. The SDK gives each process a
//! random UUID (compose, `--scale`); on Kubernetes each pod passes one the
//! semantic conventions derive from the pod: `<namespace>.<pod>.<container>`
//! (non-normative "Kubernetes attributes", service.instance.id), through
//! the downward API, so a restarted pod keeps its name and a new one gets
//! its own.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed check is a panic with the reason in its message"
)]

use stack_check::{RUST_SERVICES, Repo, Yaml, YamlExt};

#[test]
fn every_service_pod_names_its_instance_after_the_pod_and_container() {
    let docs = Repo::default()
        .kustomize("deploy/kubernetes/overlays/kind")
        .unwrap();
    let mut checked = 0;
    for (service, _, _) in RUST_SERVICES {
        let workload = docs
            .iter()
            .find(|doc| {
                doc.str_at("kind") == Some("Deployment")
                    && doc.str_at("metadata.name") == Some(service)
            })
            .unwrap_or_else(|| panic!("no Deployment {service}"));
        let container = &workload
            .at("spec.template.spec.containers")
            .and_then(Yaml::as_sequence)
            .unwrap()[0];
        let env = container.at("env").and_then(Yaml::as_sequence).unwrap();
        let position = |name: &str| {
            env.iter()
                .position(|variable| variable.str_at("name") == Some(name))
        };
        // The card processor exports nothing (docs/contract.md).
        if position("OTEL_EXPORTER_OTLP_ENDPOINT").is_none() {
            continue;
        }
        let attributes = position("OTEL_RESOURCE_ATTRIBUTES").unwrap_or_else(|| {
            panic!("{service}: no OTEL_RESOURCE_ATTRIBUTES, so no service.instance.id from the pod")
        });
        let name = container.str_at("name").unwrap();
        let value = env[attributes].str_at("value").unwrap();
        let wanted = format!("service.instance.id=$(POD_NAMESPACE).$(POD_NAME).{name}");
        assert!(
            value.split(',').any(|pair| pair == wanted),
            "{service}: {value}"
        );
        // Kubernetes expands $(VAR) only from variables defined before it.
        for (variable, field) in [
            ("POD_NAMESPACE", "metadata.namespace"),
            ("POD_NAME", "metadata.name"),
        ] {
            let at = position(variable).unwrap_or_else(|| panic!("{service}: no {variable}"));
            assert!(at < attributes, "{service}: {variable} comes after its use");
            assert_eq!(
                env[at].str_at("valueFrom.fieldRef.fieldPath"),
                Some(field),
                "{service}: {variable}"
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 5, "the five services that export telemetry");
}
