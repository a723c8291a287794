use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let config: gateway::Config = platform::config();
    platform::run("gateway", env!("CARGO_PKG_VERSION"), gateway::build(config)).await
}
