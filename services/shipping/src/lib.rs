//! The shipping service: quotes and tracking ids (`hipstershop.ShippingService`).
//!
//! Quotes are flat, as upstream: nothing to ship costs nothing, anything else
//! USD 8.99. Tracking ids keep the upstream shape `AB-<n><3 digits>-<n/2><7 digits>`.
//! Unlike upstream, a request without an address is `INVALID_ARGUMENT`, not a crash.

mod handlers;
mod tracking;

use std::{future::Future, net::SocketAddr};

use boutique_platform::{ConfigError, Env, GrpcServer, Telemetry, grpc::ServerError};
use boutique_proto::shipping_service_server::ShippingServiceServer;

pub use tracking::tracking_id;

/// The upstream default port.
pub const DEFAULT_PORT: u16 = 50051;

/// Shipping settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen (`LISTEN_ADDR`, `PORT`).
    pub listen: SocketAddr,
    /// This service's logs, metrics and traces: [`Telemetry::detached`] until
    /// the binary hands over the process's.
    pub telemetry: Telemetry,
}

impl Config {
    /// Reads `PORT` and `LISTEN_ADDR`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            telemetry: Telemetry::detached("shipping"),
            listen: env.listen_addr(DEFAULT_PORT)?,
        })
    }
}

/// The running shipping service.
#[derive(Debug)]
pub struct App {
    server: GrpcServer,
}

impl App {
    /// Binds the listener; the service answers once [`App::run_until`] runs.
    pub async fn build(config: Config) -> Result<Self, ServerError> {
        let server = GrpcServer::bind(&config.telemetry, config.listen)
            .await?
            .add_service(ShippingServiceServer::new(handlers::Shipping));
        Ok(Self { server })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Serves until `shutdown` resolves, then drains.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServerError> {
        self.server.run_until(shutdown).await
    }
}
