//! orders, start to finish. The other services say the same in one line
//! (`platform::run`); here every step is in sight.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    // Configuration from the environment; `--help` or a bad value ends here.
    let config: orders::Config = platform::config();
    // Telemetry before anything else, so start-up is traced and logged: the
    // providers (traces, metrics, logs) and the subscriber, from `OTEL_*`.
    let telemetry = match telemetry::init("orders", env!("CARGO_PKG_VERSION")) {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    // Database, migrations, outbox relay, reconciler, router; then serve
    // until SIGTERM or Ctrl-C and let in-flight requests finish.
    // Boxed: the application is a large future (a TLS-capable Postgres
    // connection among it), and `main` need not carry it on its stack.
    let served = Box::pin(platform::serve("orders", orders::build(config))).await;
    // Export what the providers still hold: traces, metrics, then logs.
    telemetry.shutdown();
    served
}
