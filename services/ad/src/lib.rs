//! The ad service: short text ads chosen by context (`hipstershop.AdService`).
//!
//! As upstream: each context key (a product category) selects its ads, which
//! are concatenated in key order; the categories map to products as
//! clothing → tank top, accessories → watch, footwear → loafers, hair →
//! hairdryer, decor → candle holder, kitchen → bamboo jar and mug; each ad
//! links to `/product/{id}`. When no key selects anything, two random ads are
//! returned, so the answer is never empty. Unlike upstream, keys match
//! case-insensitively after trimming, the two fallback ads are distinct, and a
//! request with more than [`MAX_CONTEXT_KEYS`] keys is `INVALID_ARGUMENT`.
//! The ad texts are our own.
//!
//! # Environment
//!
//! | Variable | Default | Meaning |
//! |---|---|---|
//! | `PORT` | `9555` | Listen port (as upstream). |
//! | `LISTEN_ADDR` | `0.0.0.0` | Listen host. |
//!
//! Logging is configured by the platform (`LOG_LEVEL`/`RUST_LOG`, `LOG_FORMAT`).

pub mod ads;
mod handlers;

use std::{future::Future, net::SocketAddr};

use boutique_platform::{ConfigError, Env, GrpcServer, Telemetry, grpc::ServerError};
use boutique_proto::ad_service_server::AdServiceServer;

pub use ads::{AdEntry, FALLBACK_COUNT, INVENTORY, ads_for_key, select_ads};
pub use handlers::MAX_CONTEXT_KEYS;

/// The upstream default port.
pub const DEFAULT_PORT: u16 = 9555;

/// Ad service settings.
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
            telemetry: Telemetry::detached("ad"),
            listen: env.listen_addr(DEFAULT_PORT)?,
        })
    }
}

/// The running ad service.
#[derive(Debug)]
pub struct App {
    server: GrpcServer,
}

impl App {
    /// Binds the listener; the service answers once [`App::run_until`] runs.
    pub async fn build(config: Config) -> Result<Self, ServerError> {
        let server = GrpcServer::bind(&config.telemetry, config.listen)
            .await?
            .add_service(AdServiceServer::new(handlers::Ads));
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
