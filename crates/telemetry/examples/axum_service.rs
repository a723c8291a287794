//! A service with telemetry, in one file: one route that runs one traced
//! statement and makes one traced call, served until Ctrl-C, and the
//! telemetry flushed on the way out.
//!
//! ```sh
//! DATABASE_URL=postgres://postgres:postgres@localhost:5432/postgres \
//! UPSTREAM_URL=http://localhost:8080/healthz \
//!   cargo run -p telemetry --example axum_service
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
use service_telemetry::db::{Database, Statement};

/// Every statement names its operation and table: its span's name.
const DATABASES: Statement =
    Statement::new("SELECT", "pg_database", "SELECT count(*) FROM pg_database");

#[derive(Clone)]
struct App {
    db: Database,
    http: reqwest_middleware::ClientWithMiddleware,
    upstream: String,
}

/// `GET /hello/{name}`: a SERVER span, with a CLIENT span for the statement
/// and one for the call as its children.
async fn hello(State(app): State<App>, Path(name): Path<String>) -> Result<String, StatusCode> {
    let (databases,): (i64,) = DATABASES
        .query_as()
        .fetch_one(&app.db)
        .await
        .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?;
    let upstream = app.http.get(&app.upstream).send().await;
    let upstream = upstream.map_err(|_| StatusCode::BAD_GATEWAY)?.status();
    Ok(format!(
        "hello {name}: {databases} databases, upstream {upstream}\n"
    ))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let env =
        |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
    // 1. Telemetry first, from the OTEL_* variables: traces, metrics, logs.
    let telemetry = service_telemetry::init("axum-example", env!("CARGO_PKG_VERSION"))?;
    // 2. What the route needs: a traced pool and the traced client.
    let app = App {
        db: Database::connect(&env(
            "DATABASE_URL",
            "postgres://postgres:postgres@localhost:5432/postgres",
        ))
        .await?,
        http: service_telemetry::http_client::client(Duration::from_secs(5)),
        upstream: env("UPSTREAM_URL", "http://localhost:8080/healthz"),
    };
    // 3. The middleware makes each request a SERVER span (after routing, so
    //    the span is named by the route) and answers with `traceresponse`.
    let router = Router::new()
        .route("/hello/{name}", get(hello))
        .layer(middleware::from_fn(
            service_telemetry::http_server::trace_requests,
        ))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind(env("LISTEN_ADDR", "127.0.0.1:3000")).await?;
    let address = listener.local_addr()?;
    tracing::info!(server.address = %address.ip(), server.port = address.port(), "example listening");
    // 4. Serve until Ctrl-C; in-flight requests finish.
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    // 5. Export what is still queued, or the last requests' spans are lost.
    telemetry.shutdown();
    Ok(())
}
