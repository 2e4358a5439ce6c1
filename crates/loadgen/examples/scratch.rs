//! Temporary driver.
use clap::Parser;
#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    args: boutique_loadgen::Args,
}
#[tokio::main]
async fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(boutique_loadgen::run_and_report(Cli::parse().args).await)
}
