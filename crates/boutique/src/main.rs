//! `boutique`: every Boutique service in one binary.
//!
//! `boutique <service>` runs one service the way its upstream container does
//! (upstream port and environment variables); `boutique all` (the default) runs
//! the whole shop in one process, each service on its own loopback port speaking
//! real gRPC. This file is wiring only: the services live in their own crates.

mod allocator;
mod audit;
mod error;
mod healthcheck;
mod launch;
mod migrate;
mod observe;
mod one;
mod shop;

use std::process::ExitCode;

use boutique_platform::{Env, config::EXIT_CONFIG, telemetry};
use clap::{Parser, Subcommand};

use crate::{error::LaunchError, launch::RunService};

/// `0.1.0 (commit 1a2b3c4d5e6f)`: the release and the exact source it was built from.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("BOUTIQUE_GIT_COMMIT"),
    ")"
);

#[derive(Debug, Parser)]
#[command(name = "boutique", version = VERSION, about = "The Boutique shop: run one service or all of them")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run every service in one process on loopback (the default).
    All(shop::AllArgs),
    /// Run one service (`boutique catalog`, `boutique cart`, ...).
    #[command(flatten)]
    Run(RunService),
    /// Drive load against a storefront, like upstream's Locust shopper.
    Loadgen(Box<boutique_loadgen::Args>),
    /// Ask a running service whether it is healthy (for container health checks).
    Healthcheck(healthcheck::Args),
    /// Apply the database migrations (`DATABASE_URL`, else the SQLite file in
    /// `DATA_DIR`) and exit: for a Kubernetes Job or init container.
    Migrate,
    /// Check payment's charges against the orders, one to one, and that no
    /// order is left unfinished (`DATABASE_URL`, else `DATA_DIR`).
    Audit(audit::Args),
}

fn main() -> ExitCode {
    allocator::tune();
    let cli = Cli::parse();
    let env = Env::from_process();
    let log = match telemetry::LogConfig::from_env(&env) {
        Ok(log) => log,
        Err(error) => return config_error(&error),
    };
    // Lines written outside any service's calls name the process's service.
    let process = match &cli.command {
        Some(Command::Run(service)) => service.0.info.name,
        Some(Command::Loadgen(_)) => "loadgen",
        _ => "boutique",
    };
    telemetry::init(&log, process);

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(error = %error, "Cannot start the async runtime.");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli
            .command
            .unwrap_or_else(|| Command::All(shop::AllArgs::default()))
        {
            Command::All(args) => shop::run_all(args, env).await.map(|()| ExitCode::SUCCESS),
            Command::Run(service) => one::run_one(service.0, env)
                .await
                .map(|()| ExitCode::SUCCESS),
            Command::Healthcheck(args) => Ok(healthcheck::run(args, &env).await),
            Command::Migrate => migrate::run(&env).await.map(|()| ExitCode::SUCCESS),
            Command::Audit(args) => audit::run(args, &env).await,
            Command::Loadgen(mut args) => {
                args.flags = boutique_flags::FlagsConfig::from_env(&env)?;
                Ok(ExitCode::from(
                    boutique_loadgen::run_and_report(*args).await,
                ))
            }
        }
    });
    match result {
        Ok(code) => code,
        Err(LaunchError::Config(error)) => config_error(&error),
        Err(LaunchError::Failed(error)) => {
            tracing::error!(
                error = format!("{error:#}"),
                "Boutique stopped with an error."
            );
            ExitCode::FAILURE
        }
    }
}

/// Bad configuration: say which variable and why, exit 64.
fn config_error(error: &boutique_platform::ConfigError) -> ExitCode {
    // Logging may not be set up yet, so write to stderr directly.
    eprintln!("boutique: configuration error: {error}");
    ExitCode::from(EXIT_CONFIG as u8)
}
