use std::process::ExitCode;

use card_processor::Config;

#[tokio::main]
async fn main() -> ExitCode {
    let config: Config = platform::config();
    // Plain JSON logs and no OpenTelemetry: this process plays a third-party
    // API, which exports nothing into our traces.
    tracing_subscriber::fmt().json().flatten_event(true).init();
    let server = match card_processor::build(&config).await {
        Ok(server) => server,
        Err(error) => {
            eprintln!("error: cannot listen on {}: {error}", config.listen_addr);
            return ExitCode::FAILURE;
        }
    };
    if let Ok(address) = server.local_addr() {
        tracing::info!(
            server.address = %address.ip(),
            server.port = address.port(),
            "card-processor listening"
        );
    }
    match server.run(platform::server::shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
