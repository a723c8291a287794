//! `docs/telemetry.md` is the registry's rendering, not a copy that drifts.

use std::path::Path;

#[test]
fn the_telemetry_reference_is_generated_from_the_registry() {
    let registry = semconv_registry::Registry::load(&semconv_registry::suite_registry()).unwrap();
    let expected = semconv_registry::markdown::render(&registry);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/telemetry.md");
    let written = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        written == expected,
        "docs/telemetry.md is not the registry's rendering: run `cargo run -p semconv-registry`"
    );
}
