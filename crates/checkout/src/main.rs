use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = checkout::Cli::parse();
    let mut stdout = std::io::stdout();
    match checkout::run(&cli, checkout::Patience::default(), &mut stdout).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("checkout: {error:#}");
            ExitCode::FAILURE
        }
    }
}
