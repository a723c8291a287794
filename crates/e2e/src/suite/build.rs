//! The binaries the suite runs, built as `cargo test --workspace` builds them,
//! and the storefront the gateway serves, built as `.ci/run` and the
//! Dockerfile build it.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::OnceLock,
};

use anyhow::{Context as _, anyhow, ensure};

use super::Service;

/// The path of a service's binary, built (once per test process) as the
/// suite runs it: for tests that start a binary by hand.
pub fn binary(service: Service) -> anyhow::Result<PathBuf> {
    (binaries()?.get(service.name()).cloned())
        .with_context(|| format!("cargo built no binary named {service}"))
}

/// The path of one of the telemetry crate's examples, built with the
/// services.
pub fn example(name: &str) -> anyhow::Result<PathBuf> {
    (binaries()?.get(name).cloned()).with_context(|| format!("cargo built no example named {name}"))
}

/// The path of any of the workspace's binaries (`checkout`,
/// `trace-store`), built with the services.
pub fn executable(name: &str) -> anyhow::Result<PathBuf> {
    (binaries()?.get(name).cloned()).with_context(|| format!("cargo built no binary named {name}"))
}

/// `web/dist`, the built storefront the gateway serves: `npm ci` when
/// `web/node_modules` is missing or older than the lock file, `npm run
/// build` when the page's sources changed since the last build. Once per
/// test process.
pub fn storefront() -> anyhow::Result<&'static Path> {
    static STOREFRONT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = STOREFRONT.get_or_init(|| build_storefront().map_err(|error| format!("{error:#}")));
    match built {
        Ok(dist) => Ok(dist),
        Err(error) => Err(anyhow!("{error}")),
    }
}

fn build_storefront() -> anyhow::Result<PathBuf> {
    let web = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../web")
        .canonicalize()
        .context("finding web/")?;
    let dist = web.join("dist");
    let lock = web.join("package-lock.json");
    if !is_newer(
        &web.join("node_modules/.package-lock.json"),
        std::slice::from_ref(&lock),
    ) {
        npm(&web, &["ci", "--no-audit", "--no-fund"])?;
    }
    let sources = [web.join("src"), web.join("build.mjs"), lock];
    if !is_newer(&dist.join("index.html"), &sources) {
        npm(&web, &["run", "build"])?;
    }
    Ok(dist)
}

fn npm(web: &Path, args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new("npm")
        .args(args)
        .current_dir(web)
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .status()
        .context("running npm: the storefront needs Node.js 20 and npm")?;
    ensure!(
        status.success(),
        "npm {} in web/ failed ({status})",
        args.join(" ")
    );
    Ok(())
}

/// Whether `built` exists and is newer than every file in `sources`
/// (folders searched through).
fn is_newer(built: &Path, sources: &[PathBuf]) -> bool {
    let Ok(built) = built.metadata().and_then(|meta| meta.modified()) else {
        return false;
    };
    let mut pending = sources.to_vec();
    while let Some(path) = pending.pop() {
        let Ok(meta) = path.metadata() else {
            continue;
        };
        if meta.is_dir() {
            let entries = std::fs::read_dir(&path).into_iter().flatten().flatten();
            pending.extend(entries.map(|entry| entry.path()));
        } else if meta.modified().is_ok_and(|modified| modified > built) {
            return false;
        }
    }
    true
}

/// The service binaries and examples by name, built once per test process.
pub(super) fn binaries() -> anyhow::Result<&'static BTreeMap<String, PathBuf>> {
    static BINARIES: OnceLock<Result<BTreeMap<String, PathBuf>, String>> = OnceLock::new();
    let built = BINARIES.get_or_init(|| build().map_err(|error| format!("{error:#}")));
    built.as_ref().map_err(|error| anyhow!("{error}"))
}

/// `cargo build` of every service and example. Cargo's JSON messages name each binary's
/// path, so the target directory (`CARGO_TARGET_DIR`, `.cargo/config.toml`,
/// ...) need not be guessed; diagnostics still go to stderr as usual.
fn build() -> anyhow::Result<BTreeMap<String, PathBuf>> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut command = Command::new(cargo);
    // The whole workspace's binaries, not just the services': cargo then
    // resolves features as `cargo test --workspace` did, and reuses what
    // that built instead of compiling the dependency tree a second time.
    command.current_dir(workspace).args([
        "build",
        "--workspace",
        "--bins",
        "--examples",
        "--message-format=json-render-diagnostics",
    ]);
    // Services are built as this crate was: debug for the tests, release
    // for the benchmarks, whose numbers mean nothing for a debug build.
    if !cfg!(debug_assertions) {
        command.arg("--release");
    }
    executables(&mut command)
}

/// `examples/consumer`, a service outside the workspace that depends on the
/// telemetry crate as docs/telemetry-crate.md says, built once per test process into
/// the workspace's target directory, so the dependencies the workspace
/// compiled with the same features are reused.
pub fn consumer() -> anyhow::Result<PathBuf> {
    static CONSUMER: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = CONSUMER.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let target = binary(Service::Gateway)
            .ok()
            .and_then(|gateway| Some(gateway.parent()?.parent()?.to_path_buf()))
            .unwrap_or_else(|| workspace.join("target"));
        let mut command = Command::new(cargo);
        command
            .current_dir(workspace.join("examples/consumer"))
            .args([
                "build",
                // Its own lock file, pruned from the workspace's: the same
                // versions, so nothing is compiled twice for a newer patch.
                "--locked",
                "--message-format=json-render-diagnostics",
            ]);
        command.arg("--target-dir").arg(&target);
        if !cfg!(debug_assertions) {
            command.arg("--release");
        }
        let built = executables(&mut command).map_err(|error| format!("{error:#}"))?;
        built
            .get("consumer")
            .cloned()
            .ok_or_else(|| "cargo built no binary named consumer".to_owned())
    });
    built.clone().map_err(|error| anyhow!("{error}"))
}

/// Runs a `cargo build` with JSON messages and names each executable it
/// built.
fn executables(command: &mut Command) -> anyhow::Result<BTreeMap<String, PathBuf>> {
    let output = (command
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output())
    .context("running cargo build")?;
    ensure!(
        output.status.success(),
        "cargo build failed ({}); its errors are above",
        output.status
    );

    let mut binaries = BTreeMap::new();
    for line in output.stdout.split(|&byte| byte == b'\n') {
        let Ok(message) = serde_json::from_slice::<serde_json::Value>(line) else {
            continue;
        };
        let name = message
            .pointer("/target/name")
            .and_then(serde_json::Value::as_str);
        let executable = message
            .get("executable")
            .and_then(serde_json::Value::as_str);
        if let (Some(name), Some(executable)) = (name, executable) {
            binaries.insert(name.to_owned(), PathBuf::from(executable));
        }
    }
    Ok(binaries)
}
