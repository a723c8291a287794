use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let config: users::Config = platform::config();
    platform::run("users", env!("CARGO_PKG_VERSION"), users::build(config)).await
}
