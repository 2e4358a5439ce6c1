//! The shipping service: quotes and tracking ids (`hipstershop.ShippingService`).
//!
//! Quotes are flat, as upstream: nothing to ship costs nothing, anything else
//! USD 8.99. Tracking ids keep the upstream shape `AB-<n><3 digits>-<n/2><7 digits>`.
//! Unlike upstream, a request without an address is `INVALID_ARGUMENT`, not a crash.

#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod handlers;
mod tracking;

use boutique_platform::{
    App, ConfigError, Env, GrpcServer, Listen, ServerError, ServiceConfig, Telemetry,
};
use boutique_proto::{directory, shipping_service_server::ShippingServiceServer};

pub use tracking::tracking_id;

/// Shipping settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen (`LISTEN_ADDR`, `PORT`, `REUSE_PORT`).
    pub listen: Listen,
}

impl ServiceConfig for Config {
    const SERVICE: &'static directory::ServiceInfo = &directory::SHIPPING;

    /// Reads `PORT` and `LISTEN_ADDR`.
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            listen: env.listen(Self::SERVICE.port)?,
        })
    }

    async fn build(self, telemetry: Telemetry) -> Result<App, ServerError> {
        let server = GrpcServer::bind(&telemetry, self.listen)
            .await?
            .add_service(ShippingServiceServer::new(handlers::Shipping));
        Ok(server.into())
    }
}
