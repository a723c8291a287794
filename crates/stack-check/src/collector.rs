//! OpenTelemetry Collector configurations, read as the Collector reads
//! them: components named `type/name`, pipelines named `signal/name`, and
//! connectors, which are an exporter of one pipeline and a receiver of
//! another.

use crate::{Yaml, YamlExt};

/// The component kinds a configuration defines at its top level.
pub const KINDS: [&str; 5] = [
    "receivers",
    "processors",
    "exporters",
    "connectors",
    "extensions",
];

/// The type of a component id: `otlp_grpc` for `otlp_grpc/tempo`.
pub fn component_type(id: &str) -> &str {
    id.split('/').next().unwrap_or(id)
}

/// One pipeline of `service.pipelines`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pipeline {
    /// `traces`, `metrics/spans`, ...
    pub name: String,
    pub receivers: Vec<String>,
    pub processors: Vec<String>,
    pub exporters: Vec<String>,
}

impl Pipeline {
    /// `traces`, `metrics`, `logs` (or `profiles`): the part before the `/`.
    pub fn signal(&self) -> &str {
        component_type(&self.name)
    }
}

/// Every pipeline of `config`, in file order.
pub fn pipelines(config: &Yaml) -> Vec<Pipeline> {
    config
        .keys_at("service.pipelines")
        .into_iter()
        .map(|name| {
            let list = |kind: &str| config.strings_at(&format!("service.pipelines.{name}.{kind}"));
            Pipeline {
                receivers: list("receivers"),
                processors: list("processors"),
                exporters: list("exporters"),
                name,
            }
        })
        .collect()
}

/// The ids of the components of `kind` (`"exporters"`, ...) whose type is
/// one of `types`: `["load_balancing", "loadbalancing"]` names a type and
/// its deprecated alias.
pub fn components_of_type(config: &Yaml, kind: &str, types: &[&str]) -> Vec<String> {
    config
        .keys_at(kind)
        .into_iter()
        .filter(|id| types.contains(&component_type(id)))
        .collect()
}

/// What the Collector would refuse to start with, or would carry unused:
/// a pipeline naming a component that is not defined, a defined receiver,
/// processor, exporter or extension that nothing uses, a connector that is
/// not both the exporter of one pipeline and the receiver of another.
pub fn pipeline_problems(config: &Yaml) -> Vec<String> {
    let mut problems = Vec::new();
    let defined = |kind: &str| config.keys_at(kind);
    let connectors = defined("connectors");
    let pipelines = pipelines(config);
    for pipeline in &pipelines {
        let name = &pipeline.name;
        for (kind, used) in [
            ("receivers", &pipeline.receivers),
            ("processors", &pipeline.processors),
            ("exporters", &pipeline.exporters),
        ] {
            for component in used {
                let is_connector = kind != "processors" && connectors.contains(component);
                if !defined(kind).contains(component) && !is_connector {
                    problems.push(format!("{name} uses undefined {kind} {component}"));
                }
            }
        }
        if pipeline.receivers.is_empty() || pipeline.exporters.is_empty() {
            problems.push(format!("{name} lacks receivers or exporters"));
        }
    }
    for kind in ["receivers", "processors", "exporters"] {
        for component in defined(kind) {
            let used = pipelines.iter().any(|pipeline| {
                match kind {
                    "receivers" => &pipeline.receivers,
                    "processors" => &pipeline.processors,
                    _ => &pipeline.exporters,
                }
                .contains(&component)
            });
            if !used {
                problems.push(format!("{kind} {component} is defined but in no pipeline"));
            }
        }
    }
    for connector in &connectors {
        let exported_to = pipelines.iter().any(|p| p.exporters.contains(connector));
        let received_from = pipelines.iter().any(|p| p.receivers.contains(connector));
        if !(exported_to && received_from) {
            problems.push(format!(
                "connector {connector} is not both an exporter and a receiver of pipelines"
            ));
        }
    }
    let enabled = config.strings_at("service.extensions");
    for extension in &enabled {
        if !defined("extensions").contains(extension) {
            problems.push(format!("undefined extension {extension}"));
        }
    }
    for extension in defined("extensions") {
        if !enabled.contains(&extension) {
            problems.push(format!("extension {extension} is defined but not enabled"));
        }
    }
    problems
}
