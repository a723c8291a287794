use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let config: payments::Config = platform::config();
    platform::run(
        "payments",
        env!("CARGO_PKG_VERSION"),
        payments::build(config),
    )
    .await
}
