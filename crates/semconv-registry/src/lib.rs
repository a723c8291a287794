//! The suite's semantic-convention registry (`semconv/` at the workspace
//! root), read for the tests and rendered as the telemetry reference.
//!
//! The registry is in OpenTelemetry Weaver's format, so `weaver registry
//! check` validates it against the conventions it depends on (v1.44.0).
//! This crate reads only what the suite needs from it: which attribute keys
//! and event names the suite may export (its own, and the conventions' it
//! names by `ref`), and the reference documentation (`docs/telemetry.md`,
//! written by `cargo run -p semconv-registry`, checked by `cargo test`).
//!
//! # Layout
//!
//! - [`Registry`]: the groups of every file, and the keys and names they allow.
//! - [`markdown`](mod@markdown): the reference documentation.

pub mod markdown;

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

use anyhow::Context;
use serde::Deserialize;

/// The registry's folder in this repository.
pub fn suite_registry() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../semconv")
}

/// Every group of every file of a registry, in file and group order.
#[derive(Debug, Default)]
pub struct Registry {
    pub groups: Vec<Group>,
}

#[derive(Debug, Deserialize)]
struct File {
    #[serde(default)]
    groups: Vec<Group>,
}

/// One group: an attribute group, an event, or a span.
#[derive(Debug, Deserialize)]
pub struct Group {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: GroupKind,
    pub brief: String,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    /// An event's name.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub span_kind: Option<String>,
    /// A metric's name, instrument and unit.
    #[serde(default)]
    pub metric_name: Option<String>,
    #[serde(default)]
    pub instrument: Option<String>,
    #[serde(default)]
    pub unit: Option<String>,
    /// The names of the events a span may carry.
    #[serde(default)]
    pub events: Vec<String>,
    #[serde(default)]
    pub attributes: Vec<AttributeEntry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupKind {
    AttributeGroup,
    Event,
    Span,
    Metric,
}

/// An attribute a group defines, or one it names by reference.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum AttributeEntry {
    Reference(Reference),
    Definition(Attribute),
}

impl AttributeEntry {
    /// The attribute's key.
    pub fn key(&self) -> &str {
        match self {
            Self::Reference(reference) => &reference.key,
            Self::Definition(attribute) => &attribute.id,
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct Reference {
    #[serde(rename = "ref")]
    pub key: String,
    #[serde(default)]
    pub requirement_level: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Attribute {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: AttributeType,
    pub brief: String,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub examples: Option<serde_yaml_ng::Value>,
    pub stability: String,
}

/// A primitive type (`string`, `int`, ...) or an enumeration.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum AttributeType {
    Primitive(String),
    Enum { members: Vec<Member> },
}

#[derive(Debug, Deserialize)]
pub struct Member {
    pub value: String,
    pub brief: String,
}

impl Registry {
    /// Reads every `.yaml` file of `dir` but the manifest, in name order.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .map(|entry| entry.map(|entry| entry.path()))
            .collect::<Result<_, _>>()?;
        paths.retain(|path| {
            path.extension()
                .is_some_and(|extension| extension == "yaml")
                && path.file_name().is_some_and(|name| name != "manifest.yaml")
        });
        paths.sort();
        let mut registry = Self::default();
        for path in paths {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let file: File = serde_yaml_ng::from_str(&text)
                .with_context(|| format!("parsing {}", path.display()))?;
            registry.groups.extend(file.groups);
        }
        Ok(registry)
    }

    /// Every attribute key the suite may export: those it defines and the
    /// conventions' it names by reference.
    pub fn attribute_keys(&self) -> BTreeSet<&str> {
        self.groups
            .iter()
            .flat_map(|group| &group.attributes)
            .map(AttributeEntry::key)
            .collect()
    }

    /// Every event name the suite may export: its own events and the
    /// conventions' events its spans name (`exception`).
    pub fn event_names(&self) -> BTreeSet<&str> {
        let own = self.groups.iter().filter_map(|group| group.name.as_deref());
        let named_by_spans = self
            .groups
            .iter()
            .flat_map(|group| &group.events)
            .map(String::as_str);
        own.chain(named_by_spans).collect()
    }

    /// Every metric name the suite may export.
    pub fn metric_names(&self) -> BTreeSet<&str> {
        self.groups
            .iter()
            .filter_map(|group| group.metric_name.as_deref())
            .collect()
    }

    /// The groups of one kind, in file order.
    pub fn of_kind(&self, kind: GroupKind) -> impl Iterator<Item = &Group> {
        self.groups.iter().filter(move |group| group.kind == kind)
    }
}

#[cfg(test)]
mod tests {
    use super::{Registry, suite_registry};

    #[test]
    fn the_suite_registry_reads_and_allows_what_the_suite_exports() {
        let registry = Registry::load(&suite_registry()).unwrap();
        let keys = registry.attribute_keys();
        for key in [
            "order.id",
            "payment.card.last4",
            "http.route",
            "db.query.text",
        ] {
            assert!(keys.contains(key), "{key}");
        }
        assert!(!keys.contains("order.card_number"));
        let events = registry.event_names();
        for name in ["order.confirmed", "exception"] {
            assert!(events.contains(name), "{name}");
        }
    }
}
