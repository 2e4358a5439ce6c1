//! An HTTP server with the same life cycle as [`crate::GrpcServer`]: bound
//! when built (port 0 allowed, or a shared port for a rolling restart),
//! serving until a shutdown signal, then handing its keep-alive connections
//! over and letting in-flight requests finish within a grace period
//! ([`drain`]).

mod drain;

use std::{net::SocketAddr, time::Duration};

use axum::{Router, middleware, serve::ListenerExt};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{App, ServerError, app::serve_then_drain, grpc::DEFAULT_GRACE, listen::Listen};

use self::drain::{Drain, LINGER, close_when_draining};

/// A bound HTTP server, ready to run.
#[derive(Debug)]
pub struct HttpServer {
    name: &'static str,
    listener: TcpListener,
    local_addr: SocketAddr,
    router: Router,
    grace: Duration,
    linger: Duration,
}

impl HttpServer {
    /// Binds `listen` (an address, or a [`Listen`] that may share its port)
    /// for the service called `name` (in its log lines).
    pub async fn bind(
        name: &'static str,
        listen: impl Into<Listen>,
        router: Router,
    ) -> Result<Self, ServerError> {
        let listen = listen.into();
        let listener = listen.bind().await?;
        let local_addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: listen.addr,
            source,
        })?;
        Ok(Self {
            name,
            listener,
            local_addr,
            router,
            grace: DEFAULT_GRACE,
            linger: LINGER,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Sets how long the whole drain may take after shutdown starts.
    #[must_use]
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Sets how long the drain waits for keep-alive clients to leave their
    /// connections (one second by default; at most half the grace, leaving
    /// the rest to the requests in flight).
    #[must_use]
    pub fn with_linger(mut self, linger: Duration) -> Self {
        self.linger = linger;
        self
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
            linger,
        } = self;
        tracing::info!(service = name, addr = %local_addr, "Serving HTTP.");
        let drain = Drain::default();
        let stop = CancellationToken::new();
        let router = router.layer(middleware::from_fn_with_state(
            drain.clone(),
            close_when_draining,
        ));
        // `tap_io` does nothing to a connection; through it axum hands the
        // handlers the peer's address (`ConnectInfo<SocketAddr>`) from a
        // listener of ours.
        let listener = drain.listener(listener, local_addr).tap_io(|_| {});
        let serve = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(stop.clone().cancelled_owned())
        .into_future();
        let linger = linger.min(grace / 2);
        let hand_over = async move { drain.hand_over(linger).await };
        serve_then_drain(name, serve, stop, shutdown, hand_over, grace).await
    }
}

impl From<HttpServer> for App {
    fn from(server: HttpServer) -> Self {
        Self::new(server.local_addr(), |shutdown| server.run_until(shutdown))
    }
}
