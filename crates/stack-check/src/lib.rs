//! Static checks of the bundled stack (`docker-compose.yml`, the
//! `Dockerfile`, the Collector, Tempo, Loki, Prometheus and Grafana files).
//!
//! Where CI runs there is no Docker engine, so the stack cannot be started
//! there. What can be checked is that the files agree with each other and
//! with the contract: every reference resolves, every port lines up, every
//! image is pinned, the keys removed from the pinned versions are absent.
//! The tests in `tests/` do that; this library only loads the files.
//!
//! # Layout
//!
//! - [`Repo`]: the files, parsed, by their path in the repository, and the
//!   Kubernetes manifests as `kubectl kustomize` renders them.
//! - [`YamlExt`]: short paths into parsed YAML (`doc.at("services.gateway")`).
//! - [`RUST_SERVICES`]: the contract's services and their ports.
//! - [`collector`]: Collector configurations' components and pipelines.
//! - [`queries`]: every `PromQL` expression of the dashboards, rules, the
//!   Grafana alert and the trace-to-metrics links, made ready to run as
//!   Grafana runs them.
//! - [`prometheus`]: the real engines (Debian's promtool, Prometheus 2.42,
//!   amtool and Alertmanager): series loaded into a data directory, a
//!   server on loopback asked over its API.

pub mod collector;
pub mod prometheus;
pub mod queries;

use std::path::{Path, PathBuf};

use anyhow::Context;
pub use serde_json::Value as Json;
pub use serde_yaml_ng::Value as Yaml;

/// The contract's services (`/work/shared/CONTRACT.md`, "Services"): name,
/// default port, and whether it owns a database.
pub const RUST_SERVICES: [(&str, u16, bool); 6] = [
    ("gateway", 8080, false),
    ("users", 8081, true),
    ("orders", 8082, true),
    ("payments", 8083, true),
    ("notifications", 8084, true),
    ("card-processor", 8085, false),
];

/// The repository root, found from this crate's manifest.
pub struct Repo {
    root: PathBuf,
}

impl Default for Repo {
    fn default() -> Self {
        Self {
            root: Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."),
        }
    }
}

impl Repo {
    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    pub fn text(&self, relative: &str) -> anyhow::Result<String> {
        std::fs::read_to_string(self.path(relative)).with_context(|| format!("reading {relative}"))
    }

    pub fn yaml(&self, relative: &str) -> anyhow::Result<Yaml> {
        serde_yaml_ng::from_str(&self.text(relative)?)
            .with_context(|| format!("parsing {relative}"))
    }

    /// `docker-compose.yml` with its `<<:` merge keys applied and its
    /// variables interpolated with none set, as `docker compose up` reads
    /// it in a shell that sets none: the default stack.
    pub fn compose(&self) -> anyhow::Result<Yaml> {
        self.compose_with(&[])
    }

    /// `docker-compose.yml` as Compose reads it with `variables` set in the
    /// environment (`OTEL_COLLECTOR_HOST=otel-agent docker compose ...`).
    pub fn compose_with(&self, variables: &[(&str, &str)]) -> anyhow::Result<Yaml> {
        let mut compose = self.yaml("docker-compose.yml")?;
        compose.apply_merge().context("applying merge keys")?;
        let lookup = |name: &str| {
            variables
                .iter()
                .find(|(variable, _)| *variable == name)
                .map(|(_, value)| (*value).to_owned())
        };
        interpolate_values(&mut compose, &lookup).context("interpolating docker-compose.yml")?;
        Ok(compose)
    }

    /// The documents `kubectl kustomize` renders from the kustomization at
    /// `relative`, with the load restrictor off, as
    /// `deploy/kubernetes/README.md` renders them (the configuration files
    /// are read from outside the kustomization's folder).
    pub fn kustomize(&self, relative: &str) -> anyhow::Result<Vec<Yaml>> {
        let output = std::process::Command::new("kubectl")
            .args(["kustomize", "--load-restrictor", "LoadRestrictionsNone"])
            .arg(self.path(relative))
            .output()
            .context("running kubectl, which renders the manifests (.ci/run installs it)")?;
        anyhow::ensure!(
            output.status.success(),
            "kubectl kustomize {relative}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8(output.stdout).context("kubectl's output")?;
        // kubectl separates documents with a `---` line; the file contents it
        // embeds are indented block scalars, so none of their lines is one.
        let mut documents = Vec::new();
        for document in text.split("\n---\n") {
            let parsed: Yaml = serde_yaml_ng::from_str(document)
                .with_context(|| format!("parsing what kubectl rendered from {relative}"))?;
            if !parsed.is_null() {
                documents.push(parsed);
            }
        }
        Ok(documents)
    }

    pub fn json(&self, relative: &str) -> anyhow::Result<Json> {
        serde_json::from_str(&self.text(relative)?).with_context(|| format!("parsing {relative}"))
    }

    /// Every file below `relative` (a directory), as repository paths.
    pub fn files_under(&self, relative: &str) -> anyhow::Result<Vec<String>> {
        let mut files = Vec::new();
        let mut pending = vec![self.path(relative)];
        while let Some(directory) = pending.pop() {
            for entry in std::fs::read_dir(&directory)
                .with_context(|| format!("listing {}", directory.display()))?
            {
                let path = entry?.path();
                if path.is_dir() {
                    pending.push(path);
                } else if let Ok(inside) = path.strip_prefix(&self.root) {
                    files.push(inside.to_string_lossy().into_owned());
                }
            }
        }
        files.sort();
        Ok(files)
    }
}

/// Interpolates every string value (not key) below `value`, as Compose
/// does: see [`interpolate`].
fn interpolate_values(
    value: &mut Yaml,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<()> {
    match value {
        Yaml::String(text) => *text = interpolate(text, lookup)?,
        Yaml::Sequence(items) => {
            for item in items {
                interpolate_values(item, lookup)?;
            }
        }
        Yaml::Mapping(mapping) => {
            for (_, item) in mapping.iter_mut() {
                interpolate_values(item, lookup)?;
            }
        }
        Yaml::Tagged(tagged) => interpolate_values(&mut tagged.value, lookup)?,
        Yaml::Null | Yaml::Bool(_) | Yaml::Number(_) => {}
    }
    Ok(())
}

/// Whether an image tag names an exact version: `major.minor` at least
/// (Postgres has no patch number), all numbers, an optional `v` and a
/// `-variant` suffix allowed (`17.6-alpine`, `v3.13.1`).
#[must_use]
pub fn is_exact_version(tag: &str) -> bool {
    let numbers = tag
        .trim_start_matches('v')
        .split('-')
        .next()
        .unwrap_or_default();
    let parts: Vec<&str> = numbers.split('.').collect();
    parts.len() >= 2 && parts.iter().all(|part| part.parse::<u32>().is_ok())
}

/// `text` with Compose's variable syntax resolved by `lookup`: `$$` is a
/// literal `$`; `${NAME}` and `$NAME` the value, or empty when unset;
/// `${NAME:-default}` the default when unset or empty, `${NAME-default}`
/// only when unset; `${NAME:?message}` and `${NAME?message}` an error when
/// unset (or empty, with the colon), as `docker compose` refuses to start.
/// (Compose's own reference: "Interpolation" in the Compose file
/// specification.)
///
/// # Errors
///
/// A `${` without its `}`, or a required variable that is not set.
pub fn interpolate(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(braced) = after.strip_prefix('{') {
            let end = braced
                .find('}')
                .with_context(|| format!("unclosed ${{ in {text:?}"))?;
            out.push_str(&expand(&braced[..end], lookup)?);
            rest = &braced[end + 1..];
        } else {
            let name_len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            if name_len == 0 {
                out.push('$');
            } else {
                out.push_str(&lookup(&after[..name_len]).unwrap_or_default());
            }
            rest = &after[name_len..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The value of one `${...}` expression (without the braces).
fn expand(expression: &str, lookup: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<String> {
    let name_len = expression
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(expression.len());
    let (name, modifier) = expression.split_at(name_len);
    let value = lookup(name);
    let set_and_not_empty = value.as_deref().is_some_and(|value| !value.is_empty());
    Ok(match modifier {
        "" => value.unwrap_or_default(),
        _ if modifier.starts_with(":-") => {
            if set_and_not_empty {
                value.unwrap_or_default()
            } else {
                modifier[2..].to_owned()
            }
        }
        _ if modifier.starts_with('-') => value.unwrap_or_else(|| modifier[1..].to_owned()),
        _ if modifier.starts_with(":?") || modifier.starts_with('?') => {
            let required_empty_too = modifier.starts_with(':');
            anyhow::ensure!(
                if required_empty_too {
                    set_and_not_empty
                } else {
                    value.is_some()
                },
                "{name} is required: {}",
                modifier.trim_start_matches(':').trim_start_matches('?')
            );
            value.unwrap_or_default()
        }
        _ => anyhow::bail!("unsupported interpolation ${{{expression}}}"),
    })
}

/// Dotted paths into YAML, for assertions that read like the file.
pub trait YamlExt {
    /// The value at `path` (`"services.gateway.ports"`), if every step exists.
    fn at(&self, path: &str) -> Option<&Yaml>;
    fn str_at(&self, path: &str) -> Option<&str>;
    /// The keys of the mapping at `path`, in file order.
    fn keys_at(&self, path: &str) -> Vec<String>;
    /// The strings of the sequence at `path`.
    fn strings_at(&self, path: &str) -> Vec<String>;
}

impl YamlExt for Yaml {
    fn at(&self, path: &str) -> Option<&Yaml> {
        path.split('.')
            .filter(|step| !step.is_empty())
            .try_fold(self, |value, step| value.get(step))
    }

    fn str_at(&self, path: &str) -> Option<&str> {
        self.at(path).and_then(Yaml::as_str)
    }

    fn keys_at(&self, path: &str) -> Vec<String> {
        self.at(path)
            .and_then(Yaml::as_mapping)
            .map(|mapping| {
                mapping
                    .keys()
                    .filter_map(|key| key.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn strings_at(&self, path: &str) -> Vec<String> {
        self.at(path)
            .and_then(Yaml::as_sequence)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|item| item.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}
