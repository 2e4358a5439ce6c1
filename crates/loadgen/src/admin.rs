//! Binding the load generator's admin port (`/metrics`, `/healthz`), the one
//! every Boutique process has ([`boutique_platform::admin`]).
//!
//! The default port (9464) is often taken where the generator runs next to
//! the shop on one machine (`boutique all` has it), so a taken *default* port
//! falls back to a free one and says so; a port that was asked for
//! (`ADMIN_PORT`, `--admin-port`) is used or the run fails.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use boutique_platform::{
    admin::{AdminServer, DEFAULT_ADMIN_PORT},
    telemetry::Metrics,
};

use crate::Error;

/// Binds `host:port` (`port` `None`: the default, with the fallback above).
pub(crate) async fn bind(
    host: IpAddr,
    port: Option<u16>,
    metrics: Arc<Metrics>,
) -> Result<AdminServer, Error> {
    let addr = SocketAddr::new(host, port.unwrap_or(DEFAULT_ADMIN_PORT));
    match AdminServer::bind(addr, Arc::clone(&metrics)).await {
        Ok(server) => Ok(server),
        Err(error) if port.is_none() => {
            // To stderr, as the progress line: stdout carries the report.
            eprintln!(
                "boutique loadgen: the default admin port {addr} is taken ({error}); using a free one"
            );
            AdminServer::bind(SocketAddr::new(host, 0), metrics)
                .await
                .map_err(|source| Error::Admin { addr, source })
        }
        Err(source) => Err(Error::Admin { addr, source }),
    }
}
