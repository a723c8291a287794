//! Test certificates and `https` servers: a certificate authority made per
//! test, certificates it signs for `localhost` and `127.0.0.1`, and a
//! router served over TLS on loopback.

use std::{net::SocketAddr, sync::Arc};

use anyhow::Context as _;
use axum::Router;
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
    service::TowerToHyperService,
};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::{
    RootCertStore, ServerConfig,
    crypto::ring,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    server::WebPkiClientVerifier,
};
use tokio_rustls::TlsAcceptor;

/// A certificate authority of the test's own, trusted by nothing until
/// the test says so.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate and its key, as PEM.
pub struct Issued {
    pub certificate: String,
    pub key: String,
}

impl TestCa {
    pub fn new() -> anyhow::Result<Self> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        Ok(Self {
            issuer: CertifiedIssuer::self_signed(params, KeyPair::generate()?)?,
        })
    }

    /// The authority's certificate, as PEM: what a client is told to trust.
    pub fn certificate(&self) -> String {
        self.issuer.pem()
    }

    /// A certificate for `localhost` and `127.0.0.1`, for a server or a
    /// client.
    pub fn issue(&self) -> anyhow::Result<Issued> {
        let key = KeyPair::generate()?;
        let params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
        let certificate = params.signed_by(&key, &self.issuer)?;
        Ok(Issued {
            certificate: certificate.pem(),
            key: key.serialize_pem(),
        })
    }

    /// A server configuration with a certificate from this authority;
    /// with `client_ca`, clients must present a certificate that authority
    /// signed (mutual TLS).
    pub fn server_config(&self, client_ca: Option<&TestCa>) -> anyhow::Result<Arc<ServerConfig>> {
        let issued = self.issue()?;
        let chain = CertificateDer::pem_slice_iter(issued.certificate.as_bytes())
            .collect::<Result<Vec<_>, _>>()?;
        let key = PrivateKeyDer::from_pem_slice(issued.key.as_bytes())?;
        let provider = Arc::new(ring::default_provider());
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()?;
        let builder = match client_ca {
            Some(client_ca) => {
                let mut roots = RootCertStore::empty();
                roots.add(client_ca.issuer.der().clone())?;
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let mut config = builder.with_single_cert(chain, key)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// Serves `router` over TLS on `127.0.0.1:0`, on the calling runtime,
/// until the runtime stops; returns the address.
pub async fn serve_https(router: Router, config: Arc<ServerConfig>) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(accept_tls(listener, router, config));
    Ok(address)
}

/// Accepts connections on `listener` until it fails, each served over TLS
/// by `router`. A failed handshake (a client that does not trust the
/// certificate) ends only that connection.
pub(crate) async fn accept_tls(
    listener: tokio::net::TcpListener,
    router: Router,
    config: Arc<ServerConfig>,
) {
    let acceptor = TlsAcceptor::from(config);
    while let Ok((stream, _)) = listener.accept().await {
        let acceptor = acceptor.clone();
        let service = TowerToHyperService::new(router.clone());
        tokio::spawn(async move {
            let Ok(stream) = acceptor.accept(stream).await else {
                return;
            };
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Writes `pem` to a file in `dir` named `name`, for a variable that takes
/// a path.
pub fn write_pem(dir: &std::path::Path, name: &str, pem: &str) -> anyhow::Result<String> {
    let path = dir.join(name);
    std::fs::write(&path, pem).with_context(|| format!("writing {}", path.display()))?;
    Ok(path.display().to_string())
}
