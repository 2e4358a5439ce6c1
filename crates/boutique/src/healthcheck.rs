//! `boutique healthcheck`: asks a running service whether it is healthy, so a
//! container image without a shell can still have a HEALTHCHECK.
//!
//! gRPC services are asked through `grpc.health.v1` (service `""` by default);
//! the storefront (`--http`) through `GET {BASE_URL}/_healthz`, which answers `ok`;
//! any other HTTP endpoint that answers `ok` with `--http --path` (an admin
//! port's `/healthz`, for the load generator).

use std::{process::ExitCode, time::Duration};

use boutique_platform::{Env, config::parse_service_addr};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

/// Arguments of `boutique healthcheck`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The server to ask, `host:port`; defaults to 127.0.0.1 and `PORT` (8080 with `--http`).
    addr: Option<String>,
    /// Ask the storefront's HTTP health endpoint instead of gRPC health.
    #[arg(long)]
    http: bool,
    /// With `--http`: the path to ask [default: `{BASE_URL}/_healthz`], e.g.
    /// `/healthz` on an admin port.
    #[arg(long, requires = "http")]
    path: Option<String>,
    /// The gRPC service name to ask about; empty means the whole server.
    #[arg(long, default_value = "", conflicts_with = "http")]
    service: String,
    /// How long to wait for an answer.
    #[arg(long, default_value = "2s", value_parser = boutique_platform::config::parse_go_duration)]
    timeout: Duration,
}

/// Exit 0 when healthy, 1 when not (the reason on stderr), 2 for bad arguments.
pub(crate) async fn run(args: Args, env: &Env) -> ExitCode {
    let default_port = if args.http { Some("8080") } else { None };
    let Some(addr) = args.addr.clone().or_else(|| {
        env.get("PORT")
            .or(default_port)
            .map(|port| format!("127.0.0.1:{port}"))
    }) else {
        eprintln!("healthcheck: give an address or set PORT");
        return ExitCode::from(2);
    };
    let addr = match parse_service_addr(&addr) {
        Ok(addr) => addr,
        Err(error) => {
            eprintln!("healthcheck: {addr}: {error}");
            return ExitCode::from(2);
        }
    };
    let result = if args.http {
        let path = args.path.clone().unwrap_or_else(|| {
            format!(
                "{}/_healthz",
                env.get("BASE_URL").unwrap_or("").trim_end_matches('/')
            )
        });
        tokio::time::timeout(args.timeout, check_http(&addr, &path))
            .await
            .unwrap_or_else(|_| Err("timed out".to_owned()))
    } else {
        check_grpc(&addr, &args.service, args.timeout).await
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(reason) => {
            eprintln!("healthcheck: {addr}: {reason}");
            ExitCode::FAILURE
        }
    }
}

async fn check_grpc(addr: &str, service: &str, timeout: Duration) -> Result<(), String> {
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|e| e.to_string())?
        .connect_timeout(timeout)
        .timeout(timeout);
    let channel = endpoint
        .connect()
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let reply = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .map_err(|status| format!("{}: {}", status.code(), status.message()))?;
    match reply.into_inner().status() {
        ServingStatus::Serving => Ok(()),
        status => Err(status.as_str_name().to_owned()),
    }
}

async fn check_http(addr: &str, path: &str) -> Result<(), String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let request = hyper::Request::get(path)
        .header(hyper::header::HOST, addr)
        // Upstream's probes send this cookie so no shopping session is minted.
        .header(hyper::header::COOKIE, "shop_session-id=x-liveness-probe")
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    if status.is_success() && body.trim_ascii() == b"ok" {
        Ok(())
    } else {
        Err(format!(
            "{path} answered {status}: {}",
            String::from_utf8_lossy(&body)
        ))
    }
}
