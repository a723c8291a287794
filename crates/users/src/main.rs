use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let config: users::Config = platform::config();
    platform::run("users", users::build(config)).await
}
