//! A service outside the suite's workspace, with the telemetry crate as its
//! only telemetry dependency: one route that runs a statement (over TLS
//! when `DATABASE_URL` asks for it) and calls another service (over
//! `https` if its URL says so), a layer of its own beside the crate's, and
//! tower-http's request logging.
//!
//! ```sh
//! DATABASE_URL='postgres://postgres:postgres@localhost/postgres?sslmode=require' \
//! UPSTREAM_URL=https://example.com/ \
//! OTEL_EXPORTER_OTLP_ENDPOINT=https://collector.example:4318 \
//!   cargo run --manifest-path examples/consumer/Cargo.toml
//! curl localhost:3000/hello/ada
//! ```

use std::time::Duration;

use axum::{
    Router,
    extract::{Path, State},
    http::StatusCode,
    middleware,
    routing::get,
};
use service_telemetry::{
    Telemetry,
    db::{Database, Statement},
    http_client::{self, ClientWithMiddleware},
    tracing::Level,
    tracing_subscriber::{self, filter::LevelFilter, prelude::*},
};
use tower_http::trace::{DefaultOnResponse, TraceLayer};

/// Whether this statement's connection is encrypted.
const CONNECTION_USES_TLS: Statement = Statement::new(
    "SELECT",
    "pg_stat_ssl",
    "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
);

#[derive(Clone)]
struct App {
    db: Database,
    http: ClientWithMiddleware,
    upstream: String,
}

/// `GET /hello/{name}`: a SERVER span with a CLIENT span for the statement
/// and one for the call.
async fn hello(State(app): State<App>, Path(name): Path<String>) -> Result<String, StatusCode> {
    let (tls,): (bool,) = CONNECTION_USES_TLS
        .query_as()
        .fetch_one(&app.db)
        .await
        .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?;
    let upstream = app.http.get(&app.upstream).send().await;
    let upstream = upstream.map_err(|_| StatusCode::BAD_GATEWAY)?.status();
    Ok(format!(
        "hello {name}: database over TLS {tls}, upstream {upstream}\n"
    ))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
    // 1. The providers, from the OTEL_* variables.
    let telemetry = Telemetry::from_env("consumer", env!("CARGO_PKG_VERSION"))?;
    // 2. The subscriber: the crate's layers, and one of this service's own
    //    (errors on stderr too). RUST_LOG decides what is logged, not what
    //    is traced.
    tracing_subscriber::registry()
        .with(telemetry.layer())
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(LevelFilter::ERROR),
        )
        .try_init()?;
    // 3. Global propagators and providers; the guard flushes them.
    let telemetry = telemetry.install();

    let app = App {
        db: Database::connect(&env("DATABASE_URL")?).await?,
        http: http_client::client(Duration::from_secs(5)),
        upstream: env("UPSTREAM_URL")?,
    };
    let router = Router::new()
        .route("/hello/{name}", get(hello))
        // A line per response, at WARN so that RUST_LOG=warn shows it;
        // inside the SERVER span, so the line is in the request's trace.
        .layer(TraceLayer::new_for_http().on_response(DefaultOnResponse::new().level(Level::WARN)))
        // A SERVER span per request, named by its route, and `traceresponse`.
        .layer(middleware::from_fn(
            service_telemetry::http_server::trace_requests,
        ))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind(
        std::env::var("LISTEN_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned()),
    )
    .await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    // 4. Export what is still queued.
    telemetry.shutdown();
    Ok(())
}
