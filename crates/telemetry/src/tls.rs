//! One TLS stack for everything the crate connects to: rustls with the
//! ring provider, trusting the platform's roots.
//!
//! rustls needs no system library (unlike native-tls and OpenSSL), ring
//! builds with the C compiler any Rust toolchain has (unlike aws-lc, which
//! wants `CMake`), and it is the stack async-nats already brings. Postgres
//! (sqlx's `tls-rustls-ring-native-roots`) and gRPC (tonic's `tls-ring`
//! with native roots) use the same stack through their own features.

use std::sync::{Arc, OnceLock};

use rustls::{
    ClientConfig, RootCertStore,
    crypto::ring,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
};

use crate::config::TlsFiles;

/// Makes ring the process's default crypto provider, unless one is
/// installed already.
///
/// With this feature reqwest is built with rustls and no provider of its
/// own, so a plain `reqwest::Client` (a service's, the browser route's)
/// needs a default: `init`, `Telemetry::new` and `http_client::client`
/// install it. A reqwest client built before any of them panics (reqwest's
/// rule); build it after `init`.
pub(crate) fn install_default_provider() {
    let _ = ring::default_provider().install_default();
}

/// A client configuration trusting the platform's roots and `files`'
/// certificates, presenting `files`' identity if any.
pub(crate) fn client_config(files: &TlsFiles) -> Result<ClientConfig, String> {
    let mut roots = platform_roots().clone();
    if let Some(pem) = &files.certificate {
        for certificate in CertificateDer::pem_slice_iter(pem) {
            let certificate = certificate.map_err(|error| format!("bad PEM: {error}"))?;
            roots
                .add(certificate)
                .map_err(|error| format!("not a usable certificate: {error}"))?;
        }
    }
    let builder = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|error| error.to_string())?
        .with_root_certificates(roots);
    let mut config = match &files.client_identity {
        Some((chain, key)) => {
            let chain = CertificateDer::pem_slice_iter(chain)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|error| format!("bad client certificate PEM: {error}"))?;
            let key = PrivateKeyDer::from_pem_slice(key)
                .map_err(|error| format!("bad client key PEM: {error}"))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|error| format!("unusable client certificate: {error}"))?
        }
        None => builder.with_no_client_auth(),
    };
    // reqwest offers ALPN itself only for the configurations it builds.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The platform's roots, read once per process: reading the system's
/// certificate store takes milliseconds.
fn platform_roots() -> &'static RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut roots = RootCertStore::empty();
        // A store that cannot be read leaves the roots that could: a
        // certificate given by variable still works.
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
        roots
    })
}
