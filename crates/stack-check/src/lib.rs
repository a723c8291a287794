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

    /// `docker-compose.yml` with its `<<:` merge keys applied, as Compose
    /// reads it.
    pub fn compose(&self) -> anyhow::Result<Yaml> {
        let mut compose = self.yaml("docker-compose.yml")?;
        compose.apply_merge().context("applying merge keys")?;
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
