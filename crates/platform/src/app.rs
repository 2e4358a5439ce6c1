//! The shape every service shares, defined once.
//!
//! A service crate states only what is its own: a `Config` that implements
//! [`ServiceConfig`] (which directory entry it is, how its settings are read,
//! and how it is built from them and the telemetry it is handed). Building
//! binds the listener (port 0 allowed) and gives back an [`App`]: the bound
//! address, and the future that serves until a shutdown signal and drains.
//! The binary, `boutique all` and the tests all start every service through
//! these two types.

use std::{error::Error as StdError, future::Future, net::SocketAddr, time::Duration};

use boutique_proto::directory::ServiceInfo;
use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::{
    config::{ConfigError, Env},
    telemetry::Telemetry,
};

/// A service's settings, and how the service is built from them.
pub trait ServiceConfig: Sized + Send + 'static {
    /// The service's entry in the directory.
    const SERVICE: &'static ServiceInfo;

    /// Reads the settings (upstream's variable names), checking every value,
    /// so a bad one stops the process at start-up with the variable named.
    fn from_env(env: &Env) -> Result<Self, ConfigError>;

    /// Binds the listener and builds the service, recording its logs, metrics
    /// and traces through `telemetry`; it answers once the [`App`] runs.
    fn build(self, telemetry: Telemetry) -> impl Future<Output = Result<App, ServerError>> + Send;
}

/// Why a service could not start or stopped with an error: one type for
/// every service, gRPC or HTTP.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listener could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why not.
        #[source]
        source: std::io::Error,
    },
    /// The reflection service could not be built from the descriptors.
    #[error("cannot build the reflection service")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// A service asked for a channel to a peer the directory does not list
    /// among its calls (a bug: add the edge to the directory).
    #[error("{service} calls {peer}, which the directory does not list among its calls")]
    UndeclaredPeer {
        /// The calling service.
        service: &'static str,
        /// The peer asked for.
        peer: &'static str,
    },
    /// A backend of the service (a store, say) could not be set up.
    #[error("cannot set up {what}")]
    Setup {
        /// What could not be set up.
        what: &'static str,
        /// Why not.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// The gRPC server failed while serving.
    #[error("the gRPC server failed")]
    Grpc(#[from] tonic::transport::Error),
    /// The HTTP server failed while serving.
    #[error("the HTTP server failed")]
    Http(#[from] std::io::Error),
}

type Serve =
    Box<dyn FnOnce(BoxFuture<'static, ()>) -> BoxFuture<'static, Result<(), ServerError>> + Send>;

/// A built service: bound, not yet serving.
pub struct App {
    local_addr: SocketAddr,
    serve: Serve,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl App {
    /// An app bound to `local_addr` that serves with `serve(shutdown)`, which
    /// must drain and return once `shutdown` resolves. Servers convert with
    /// `From`; this is for services that run something beside their server.
    pub fn new<F, Fut>(local_addr: SocketAddr, serve: F) -> Self
    where
        F: FnOnce(BoxFuture<'static, ()>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), ServerError>> + Send + 'static,
    {
        Self {
            local_addr,
            serve: Box::new(move |shutdown| Box::pin(serve(shutdown))),
        }
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` resolves, then drains within the grace period.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        (self.serve)(Box::pin(shutdown)).await
    }
}

/// The life cycle both servers share: `serve` runs until `shutdown`; then
/// `before_drain` runs (gRPC reports NOT_SERVING there, HTTP hands its
/// keep-alive connections over) while `serve` still runs, `stop` tells `serve`
/// to stop accepting and finish, and the whole drain gets `grace`.
pub(crate) async fn serve_then_drain<E>(
    name: &'static str,
    serve: impl Future<Output = Result<(), E>>,
    stop: CancellationToken,
    shutdown: impl Future<Output = ()>,
    before_drain: impl Future<Output = ()>,
    grace: Duration,
) -> Result<(), ServerError>
where
    ServerError: From<E>,
{
    tokio::pin!(serve, shutdown);
    tokio::select! {
        result = &mut serve => return Ok(result?),
        () = &mut shutdown => {}
    }
    tracing::info!(
        service = name,
        grace_ms = grace.as_millis(),
        "Draining in-flight requests."
    );
    let stopping = async {
        before_drain.await;
        stop.cancel();
    };
    // `serve` is polled all along: what runs before the drain may need it to
    // (the HTTP listener closes from inside it), and calls keep being answered.
    let drained = async {
        let (result, ()) = tokio::join!(&mut serve, stopping);
        result
    };
    match tokio::time::timeout(grace, drained).await {
        Ok(result) => result?,
        Err(_) => tracing::warn!(
            service = name,
            "Requests still running after the grace period were dropped."
        ),
    }
    tracing::info!(service = name, "Stopped.");
    Ok(())
}
