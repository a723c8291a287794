//! Each feature pulls what it says and no more: `cargo tree` of the crate
//! with its default features off, then with each integration alone.

#![allow(
    clippy::expect_used,
    reason = "a failed check is a panic with the reason in its message"
)]

use std::process::Command;

/// `cargo tree` of this crate with `features` (none: the default off),
/// one line per crate: `name vX.Y.Z [feature,feature]`.
fn tree(features: &str) -> String {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["tree", "--locked", "-p", "service-telemetry"])
        .args(["--no-default-features", "-e", "normal"])
        .args(["--prefix", "none", "--format", "{p} [{f}]"]);
    if !features.is_empty() {
        command.args(["--features", features]);
    }
    let output = command.output().expect("cargo tree runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8")
}

/// The features `krate` is built with, if it is in the tree.
fn features_of<'a>(tree: &'a str, krate: &str) -> Option<Vec<&'a str>> {
    let line = tree
        .lines()
        .find(|line| line.starts_with(&format!("{krate} v")))?;
    let list = line.split_once('[')?.1.split(']').next()?;
    Some(list.split(',').filter(|f| !f.is_empty()).collect())
}

fn assert_absent(tree: &str, features: &str, crates: &[&str]) {
    for krate in crates {
        assert!(
            features_of(tree, krate).is_none(),
            "--features {features:?} pulls {krate}"
        );
    }
}

fn assert_without(tree: &str, features: &str, krate: &str, unwanted: &[&str]) {
    let enabled = features_of(tree, krate).unwrap_or_default();
    for feature in unwanted {
        assert!(
            !enabled.contains(feature),
            "--features {features:?} builds {krate} with {feature}: {enabled:?}"
        );
    }
}

#[test]
fn the_base_crate_has_no_integration_and_no_blocking_client() {
    let base = tree("");
    assert_absent(
        &base,
        "",
        &[
            "axum",
            "sqlx",
            "async-nats",
            "tonic",
            "reqwest-middleware",
            "rustls",
            "flate2",
        ],
    );
    // The exporters' client runs on the crate's export thread: no hidden
    // runtime of reqwest's own.
    assert_without(&base, "", "reqwest", &["blocking"]);
}

#[test]
fn sqlx_is_postgres_and_nothing_a_service_did_not_ask_for() {
    let sqlx = tree("sqlx");
    assert_without(
        &sqlx,
        "sqlx",
        "sqlx",
        &["macros", "migrate", "time", "uuid"],
    );
    assert_absent(&sqlx, "sqlx", &["sqlx-macros"]);
}

#[test]
fn tls_is_rustls_with_ring_everywhere() {
    let tls = tree("tls,sqlx,reqwest");
    let has = |krate: &str, feature: &str| {
        features_of(&tls, krate).is_some_and(|features| features.contains(&feature))
    };
    assert!(has("rustls", "ring"), "rustls without ring");
    assert!(
        has("sqlx", "tls-rustls-ring-native-roots"),
        "Postgres without TLS"
    );
    assert!(has("reqwest", "rustls-no-provider"), "reqwest without TLS");
    assert_absent(&tls, "tls", &["aws-lc-rs", "native-tls", "openssl"]);
    assert_without(&tls, "tls", "reqwest", &["blocking"]);
}

#[test]
fn gzip_is_flate2_in_pure_rust_and_nothing_else() {
    let gzip = tree("gzip");
    assert!(
        features_of(&gzip, "flate2").is_some(),
        "gzip without flate2"
    );
    assert_absent(&gzip, "gzip", &["libz-sys", "zlib-rs", "tonic", "rustls"]);
}
