//! `boutique healthcheck`: asks a gRPC server for `grpc.health.v1` status, so a
//! container image without a shell can still have a HEALTHCHECK.

use std::{process::ExitCode, time::Duration};

use boutique_platform::{Env, config::parse_service_addr};
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};

/// Arguments of `boutique healthcheck`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The server to ask, `host:port`; defaults to 127.0.0.1 and `PORT`.
    addr: Option<String>,
    /// The service name to ask about; empty means the whole server.
    #[arg(long, default_value = "")]
    service: String,
    /// How long to wait for an answer.
    #[arg(long, default_value = "2s", value_parser = boutique_platform::config::parse_go_duration)]
    timeout: Duration,
}

/// Exit 0 when the server reports SERVING, 1 otherwise (with the reason on stderr).
pub(crate) async fn run(args: Args, env: &Env) -> ExitCode {
    let addr = match args.addr.or_else(|| env.get("PORT").map(|port| format!("127.0.0.1:{port}"))) {
        Some(addr) => addr,
        None => {
            eprintln!("healthcheck: give an address or set PORT");
            return ExitCode::from(2);
        }
    };
    match check(&addr, &args.service, args.timeout).await {
        Ok(ServingStatus::Serving) => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("healthcheck: {addr} is {}", status.as_str_name());
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("healthcheck: {addr}: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn check(addr: &str, service: &str, timeout: Duration) -> Result<ServingStatus, String> {
    let host_port = parse_service_addr(addr)?;
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{host_port}"))
        .map_err(|e| e.to_string())?
        .connect_timeout(timeout)
        .timeout(timeout);
    let channel = endpoint.connect().await.map_err(|e| format!("cannot connect: {e}"))?;
    let reply = HealthClient::new(channel)
        .check(HealthCheckRequest { service: service.to_owned() })
        .await
        .map_err(|status| format!("{}: {}", status.code(), status.message()))?;
    Ok(reply.into_inner().status())
}
