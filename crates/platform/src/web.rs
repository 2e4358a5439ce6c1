//! An HTTP server with the same life cycle as [`crate::GrpcServer`]: bound
//! when built (port 0 allowed), serving until a shutdown signal, then letting
//! in-flight requests finish within a grace period.

use std::{net::SocketAddr, time::Duration};

use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{App, ServerError, app::serve_then_drain, grpc::DEFAULT_GRACE};

/// A bound HTTP server, ready to run.
#[derive(Debug)]
pub struct HttpServer {
    name: &'static str,
    listener: TcpListener,
    local_addr: SocketAddr,
    router: Router,
    grace: Duration,
}

impl HttpServer {
    /// Binds `addr` for the service called `name` (in its log lines).
    pub async fn bind(
        name: &'static str,
        addr: SocketAddr,
        router: Router,
    ) -> Result<Self, ServerError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServerError::Bind { addr, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| ServerError::Bind { addr, source })?;
        Ok(Self {
            name,
            listener,
            local_addr,
            router,
            grace: DEFAULT_GRACE,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` resolves, then drains within the grace period.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServerError> {
        let Self {
            name,
            listener,
            local_addr,
            router,
            grace,
        } = self;
        tracing::info!(service = name, addr = %local_addr, "Serving HTTP.");
        let stop = CancellationToken::new();
        // Handlers may read the peer's address (`ConnectInfo<SocketAddr>`).
        let serve = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(stop.clone().cancelled_owned())
        .into_future();
        serve_then_drain(name, serve, stop, shutdown, async {}, grace).await
    }
}

impl From<HttpServer> for App {
    fn from(server: HttpServer) -> Self {
        Self::new(server.local_addr(), |shutdown| server.run_until(shutdown))
    }
}
