//! `cargo run -p semconv-registry`: writes `docs/telemetry.md` from `semconv/`.

use std::path::Path;

fn main() -> anyhow::Result<()> {
    let registry = semconv_registry::Registry::load(&semconv_registry::suite_registry())?;
    let page = semconv_registry::markdown::render(&registry);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/telemetry.md");
    std::fs::write(&path, page)?;
    println!("wrote {}", path.display());
    Ok(())
}
