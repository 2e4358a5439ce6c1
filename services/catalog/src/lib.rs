//! The product catalog service (`hipstershop.ProductCatalogService`).
//!
//! Lists, gets and searches the shop's products. The nine upstream products are
//! built in ([`embedded_catalog`]); a JSON file in the upstream `products.json`
//! shape can replace them. The catalog is validated once at startup and never
//! reloaded, so upstream's SIGUSR1 "reload on every request" bug does not exist.
//!
//! Rules, as upstream: ListProducts returns everything in catalog order;
//! GetProduct matches the id exactly (case-sensitive) and answers `NOT_FOUND`
//! "no product with ID {id}" on a miss; SearchProducts matches a
//! case-insensitive substring of the name or the description, in catalog order,
//! and an empty query matches everything. Unlike upstream, an empty id is
//! `INVALID_ARGUMENT` and lookups use an index instead of a scan.
//!
//! # Environment
//!
//! | Variable | Default | Meaning |
//! |---|---|---|
//! | `PORT` | `3550` | Port to listen on. |
//! | `LISTEN_ADDR` | `0.0.0.0` | Host to listen on. |
//! | `PRODUCT_CATALOG_FILE` | unset: the built-in catalog | Path to a products JSON file (top-level `products`; camelCase or snake_case keys). A missing, unreadable or invalid file (empty or duplicate ids, empty names, missing, invalid or negative prices, no products) is a configuration error. Categories are lowercased. |
//! | `EXTRA_LATENCY` | `0` | A Go duration (`300ms`, `5.5s`) waited before every RPC, for fault-injection demos. An unparsable value is a configuration error. |
//! | `FLAGD_*` | no flags | Failure flags (`boutique_flags::config`): `productCatalogFailure`, evaluated with `product_id`, fails `GetProduct` of the product its targeting picks (`OLJCESPC7Z` in the demo's and our flag file) with `UNAVAILABLE`. |

mod catalog;
mod embedded;
mod file;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod handlers;

use std::{path::Path, time::Duration};

use boutique_flags::{Flags, FlagsConfig};
use boutique_platform::{
    App, ConfigError, Env, GrpcServer, Listen, ServerError, ServiceConfig, Telemetry,
    config::parse_go_duration,
};
use boutique_proto::{directory, product_catalog_service_server::ProductCatalogServiceServer};

pub use catalog::{Catalog, CatalogError};
pub use embedded::embedded_catalog;

/// The variable naming an optional products JSON file.
pub const CATALOG_FILE_VAR: &str = "PRODUCT_CATALOG_FILE";

/// The variable holding the injected latency.
pub const EXTRA_LATENCY_VAR: &str = "EXTRA_LATENCY";

/// Catalog settings, with the catalog already loaded and validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen (`LISTEN_ADDR`, `PORT`, `REUSE_PORT`).
    pub listen: Listen,
    /// The products to serve (`PRODUCT_CATALOG_FILE`, or the built-in ones).
    pub catalog: Catalog,
    /// Waited before every RPC (`EXTRA_LATENCY`).
    pub extra_latency: Duration,
    /// Where the failure flags come from (`FLAGD_*`).
    pub flags: FlagsConfig,
}

impl ServiceConfig for Config {
    const SERVICE: &'static directory::ServiceInfo = &directory::CATALOG;

    /// Reads `PORT`, `LISTEN_ADDR`, `EXTRA_LATENCY` and `PRODUCT_CATALOG_FILE`,
    /// loading and validating the file if one is named.
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let listen = env.listen(Self::SERVICE.port)?;
        let extra_latency = env
            .parse_with(EXTRA_LATENCY_VAR, parse_go_duration)?
            .unwrap_or(Duration::ZERO);
        let catalog = match env.get(CATALOG_FILE_VAR) {
            Some(path) => Catalog::from_file(Path::new(path))
                .map_err(|e| ConfigError::new(CATALOG_FILE_VAR, path, e))?,
            None => embedded_catalog(),
        };
        Ok(Self {
            listen,
            catalog,
            extra_latency,
            flags: FlagsConfig::from_env(env)?,
        })
    }

    async fn build(self, telemetry: Telemetry) -> Result<App, ServerError> {
        tracing::info!(
            products = self.catalog.len(),
            extra_latency_ms = self.extra_latency.as_millis(),
            "Loaded the product catalog."
        );
        let service = handlers::CatalogService {
            catalog: self.catalog,
            extra_latency: self.extra_latency,
            flags: Flags::new(&self.flags, &telemetry),
        };
        let server = GrpcServer::bind(&telemetry, self.listen)
            .await?
            .add_service(ProductCatalogServiceServer::new(service));
        Ok(server.into())
    }
}
