use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let config: orders::Config = platform::config();
    platform::run("orders", orders::build(config)).await
}
