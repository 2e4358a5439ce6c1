//! The process's telemetry: the hub every service takes its [`Telemetry`]
//! from, and the admin port that serves their metrics.
//!
//! [`Telemetry`]: boutique_platform::Telemetry

use std::{net::SocketAddr, sync::Arc};

use boutique_flags::{FlagFaults, FlagsConfig};
use boutique_platform::{
    ConfigError, Env,
    admin::{AdminServer, DEFAULT_ADMIN_PORT},
    telemetry::{TelemetryConfig, TelemetryHub},
};
use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::error::LaunchError;

/// Where the admin port listens, and whether someone asked for exactly that.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AdminAddr {
    pub(crate) addr: SocketAddr,
    /// Set from `ADMIN_PORT` or `--admin`: then a taken port is an error. The
    /// default port falls back to an ephemeral one (two shops on a laptop).
    pub(crate) explicit: bool,
}

impl AdminAddr {
    /// `ADMIN_PORT` (default 9464) on `host`.
    pub(crate) fn from_env(env: &Env, host: std::net::IpAddr) -> Result<Self, ConfigError> {
        let port = env.parse_with("ADMIN_PORT", str::parse::<u16>)?;
        Ok(Self {
            addr: SocketAddr::new(host, port.unwrap_or(DEFAULT_ADMIN_PORT)),
            explicit: port.is_some(),
        })
    }
}

/// The hub and the running admin server.
pub(crate) struct Observability {
    pub(crate) hub: Arc<TelemetryHub>,
    pub(crate) admin_addr: SocketAddr,
    serve: BoxFuture<'static, std::io::Result<()>>,
}

impl Observability {
    /// Reads the telemetry settings and binds the admin port.
    pub(crate) async fn start(
        env: &Env,
        admin: AdminAddr,
        stop: &CancellationToken,
    ) -> Result<Self, LaunchError> {
        let config = TelemetryConfig::from_env(env, env!("CARGO_PKG_VERSION"))?;
        // The failure flags' per-service latency and errors reach every gRPC
        // server of the process through the hub (none without a flag source).
        let faults = FlagFaults::new(FlagsConfig::from_env(env)?);
        let hub = Arc::new(
            TelemetryHub::new(config, env!("BOUTIQUE_GIT_COMMIT")).with_faults(Arc::new(faults)),
        );
        let server = match AdminServer::bind(admin.addr, hub.metrics()).await {
            Ok(server) => server,
            Err(error) if !admin.explicit => {
                tracing::warn!(addr = %admin.addr, error = %error, "The default admin port is taken; using a free one.");
                let any_port = SocketAddr::new(admin.addr.ip(), 0);
                AdminServer::bind(any_port, hub.metrics())
                    .await
                    .map_err(LaunchError::failed)?
            }
            Err(error) => {
                return Err(LaunchError::Failed(anyhow::Error::new(error).context(
                    format!("cannot listen on the admin address {}", admin.addr),
                )));
            }
        };
        let admin_addr = server.local_addr();
        tracing::info!(addr = %admin_addr, "Serving metrics on /metrics.");
        let serve = Box::pin(server.run_until(stop.clone().cancelled_owned()));
        Ok(Self {
            hub,
            admin_addr,
            serve,
        })
    }

    /// Serves the admin port until the stop signal; then flushes spans. Await
    /// it after the services have drained, so their last spans are exported.
    pub(crate) fn into_parts(self) -> (Arc<TelemetryHub>, BoxFuture<'static, std::io::Result<()>>) {
        (self.hub, self.serve)
    }
}

/// Exports the spans still buffered, off the async threads (it blocks).
pub(crate) async fn flush(hub: Arc<TelemetryHub>) {
    if let Err(error) = tokio::task::spawn_blocking(move || hub.shutdown()).await {
        tracing::warn!(error = %error, "Span export did not finish.");
    }
}
