use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let config: gateway::Config = platform::config();
    platform::run("gateway", gateway::build(config)).await
}
