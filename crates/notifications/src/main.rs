use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let config: notifications::Config = platform::config();
    platform::run(
        "notifications",
        env!("CARGO_PKG_VERSION"),
        notifications::build(config),
    )
    .await
}
