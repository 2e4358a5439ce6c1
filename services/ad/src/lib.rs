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
//! | `FLAGD_*` | no flags | Failure flags (`boutique_flags::config`): `adFailure`, `adHighCpu`, `adManualGc` ([`faults`]). |
//!
//! Logging is configured by the platform (`LOG_LEVEL`/`RUST_LOG`, `LOG_FORMAT`).

pub mod ads;
pub mod faults;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod handlers;

use boutique_flags::{Flags, FlagsConfig};
use boutique_platform::{
    App, ConfigError, Env, GrpcServer, Listen, ServerError, ServiceConfig, Telemetry,
};
use boutique_proto::{ad_service_server::AdServiceServer, directory};

pub use ads::{AdEntry, FALLBACK_COUNT, INVENTORY, ads_for_key, select_ads};
pub use handlers::MAX_CONTEXT_KEYS;

/// Ad settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen (`LISTEN_ADDR`, `PORT`, `REUSE_PORT`).
    pub listen: Listen,
    /// Where the failure flags come from (`FLAGD_*`).
    pub flags: FlagsConfig,
}

impl ServiceConfig for Config {
    const SERVICE: &'static directory::ServiceInfo = &directory::AD;

    /// Reads `PORT`, `LISTEN_ADDR` and the flag source.
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            listen: env.listen(Self::SERVICE.port)?,
            flags: FlagsConfig::from_env(env)?,
        })
    }

    async fn build(self, telemetry: Telemetry) -> Result<App, ServerError> {
        let flags = Flags::new(&self.flags, &telemetry);
        let server = GrpcServer::bind(&telemetry, self.listen)
            .await?
            .add_service(AdServiceServer::new(handlers::Ads { flags }));
        Ok(server.into())
    }
}
