use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let config: payments::Config = platform::config();
    platform::run("payments", payments::build(config)).await
}
