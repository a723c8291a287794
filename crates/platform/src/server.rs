//! Serving a router, and the life of a service process.

use std::{future::Future, io, net::SocketAddr, process::ExitCode, time::Duration};

use axum::{
    Router,
    extract::{ConnectInfo, DefaultBodyLimit},
    routing::MethodRouter,
};
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto, graceful::GracefulShutdown},
    service::TowerToHyperService,
};
use tokio::net::TcpListener;
use tower::ServiceExt;

/// What every service's router needs to know of the service.
#[derive(Clone, Copy, Debug)]
pub struct ServiceOptions {
    /// The service's name in `fault.<name>` baggage entries.
    pub name: &'static str,
    /// The longest a request may take, when its caller announces no
    /// shorter deadline.
    pub deadline: Duration,
    pub faults: crate::faults::Switch,
}

/// A service's whole router: its API traced, held to its deadline, with a
/// problem for unknown paths, then `/readyz` and `/healthz`. The probes
/// come after the trace layer on purpose: axum layers only the routes added
/// before them, and probes every few seconds would bury the real traces.
pub fn service_router<S>(
    options: ServiceOptions,
    api: Router<S>,
    readiness: MethodRouter<S>,
) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let ServiceOptions {
        name,
        deadline,
        faults,
    } = options;
    let mut api = api
        .fallback(crate::problem::not_found)
        .method_not_allowed_fallback(crate::problem::method_not_allowed);
    if faults.enabled {
        api = api.layer(axum::middleware::from_fn(move |request, next| {
            crate::faults::inject(name, request, next)
        }));
    }
    // Outermost first: the server span, then the deadline, then faults.
    api.layer(axum::middleware::from_fn(move |request, next| {
        crate::deadline::enforce(deadline, request, next)
    }))
    .layer(axum::middleware::from_fn(
        telemetry::http_server::trace_requests,
    ))
    .route("/readyz", readiness)
    .merge(crate::health::liveness())
}

/// Bodies past this size are refused with 413 before any handler runs.
const BODY_LIMIT: usize = 64 * 1024;

/// How long a client may take to send a request's head (its line and
/// headers), once connected.
const HEAD_DEADLINE: Duration = Duration::from_secs(10);

/// After a shutdown signal, how long in-flight requests may take to finish.
const DRAIN_DEADLINE: Duration = Duration::from_secs(10);

/// A bound listener and the router it serves. Binding first lets callers
/// (tests, `main`) learn the port before serving starts, so port 0 works.
pub struct Server {
    listener: TcpListener,
    router: Router,
}

impl Server {
    pub async fn bind(address: SocketAddr, router: Router) -> io::Result<Self> {
        Ok(Self {
            listener: TcpListener::bind(address).await?,
            router: router.layer(DefaultBodyLimit::max(BODY_LIMIT)),
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then stops accepting and lets
    /// in-flight requests finish for up to 10 s (`DRAIN_DEADLINE`).
    ///
    /// Connections are served by hyper directly rather than through
    /// `axum::serve`, for one setting it does not expose: a deadline for
    /// the request head. Without a timer, a client that sends half a head
    /// and stalls holds its connection for as long as it likes.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> io::Result<()> {
        let mut connections = auto::Builder::new(TokioExecutor::new());
        connections
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(HEAD_DEADLINE);
        let graceful = GracefulShutdown::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    // Out of file descriptors and the like: the next
                    // accept may work; a busy loop would not help.
                    Err(error) => {
                        tracing::warn!(exception.message = %error, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            // The peer's address, for handlers that count per client (the
            // browser spans' rate limit), as `axum::serve` would give it.
            let service = TowerToHyperService::new(self.router.clone().map_request(
                move |mut request: axum::http::Request<_>| {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    request
                },
            ));
            let connection =
                connections.serve_connection_with_upgrades(TokioIo::new(stream), service);
            let connection = graceful.watch(connection.into_owned());
            tokio::spawn(async move {
                // A client that went away mid-request is not our error.
                let _ = connection.await;
            });
        }
        drop(self.listener);
        tokio::select! {
            () = graceful.shutdown() => {}
            () = tokio::time::sleep(DRAIN_DEADLINE) => {
                tracing::warn!(deadline = ?DRAIN_DEADLINE, "in-flight requests did not finish in time");
            }
        }
        Ok(())
    }
}

/// Completes on SIGTERM (what orchestrators send) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// The whole life of a service: telemetry first (so start-up is logged and
/// a bad `OTEL_*` value stops it), then the application, then serving until
/// SIGTERM, then the telemetry flush. Every failure is one line on stderr
/// and a non-zero exit. `orders`' `main.rs` spells the same steps out.
/// `version` is the service's own (`env!("CARGO_PKG_VERSION")`).
pub async fn run(
    service: &str,
    version: &str,
    build: impl Future<Output = anyhow::Result<Server>>,
) -> ExitCode {
    let telemetry = match telemetry::init(service, version) {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    // Boxed: a service's whole application is a large future, and `main`
    // need not carry it on its stack.
    let served = Box::pin(serve(service, build)).await;
    telemetry.shutdown();
    served
}

/// Builds the application, says where it listens (the line the tests and
/// a reader wait for), serves until SIGTERM or Ctrl-C and drains; the
/// outcome as an exit code, a failure logged and on stderr.
pub async fn serve(service: &str, build: impl Future<Output = anyhow::Result<Server>>) -> ExitCode {
    let result = async {
        let server = build.await?;
        let address = server.local_addr()?;
        tracing::info!(
            server.address = %address.ip(),
            server.port = address.port(),
            "{service} listening"
        );
        server.run(shutdown_signal()).await?;
        anyhow::Ok(())
    }
    .await;
    match result {
        Ok(()) => {
            tracing::info!("{service} stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(
                exception.message = format!("{error:#}"),
                "{service} stopped"
            );
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
