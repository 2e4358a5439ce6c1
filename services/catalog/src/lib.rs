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

mod catalog;
mod embedded;
mod file;
mod handlers;

use std::{future::Future, net::SocketAddr, path::Path, time::Duration};

use boutique_platform::{
    ConfigError, Env, GrpcServer, Telemetry, config::parse_go_duration, grpc::ServerError,
};
use boutique_proto::product_catalog_service_server::ProductCatalogServiceServer;

pub use catalog::{Catalog, CatalogError};
pub use embedded::embedded_catalog;

/// The upstream default port.
pub const DEFAULT_PORT: u16 = 3550;

/// The variable naming an optional products JSON file.
pub const CATALOG_FILE_VAR: &str = "PRODUCT_CATALOG_FILE";

/// The variable holding the injected latency.
pub const EXTRA_LATENCY_VAR: &str = "EXTRA_LATENCY";

/// Catalog settings, with the catalog already loaded and validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen (`LISTEN_ADDR`, `PORT`).
    pub listen: SocketAddr,
    /// This service's logs, metrics and traces: [`Telemetry::detached`] until
    /// the binary hands over the process's.
    pub telemetry: Telemetry,
    /// The products to serve (`PRODUCT_CATALOG_FILE`, or the built-in ones).
    pub catalog: Catalog,
    /// Waited before every RPC (`EXTRA_LATENCY`).
    pub extra_latency: Duration,
}

impl Config {
    /// Reads `PORT`, `LISTEN_ADDR`, `EXTRA_LATENCY` and `PRODUCT_CATALOG_FILE`,
    /// loading and validating the file if one is named.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let listen = env.listen_addr(DEFAULT_PORT)?;
        let extra_latency = env
            .parse_with(EXTRA_LATENCY_VAR, parse_go_duration)?
            .unwrap_or(Duration::ZERO);
        let catalog = match env.get(CATALOG_FILE_VAR) {
            Some(path) => Catalog::from_file(Path::new(path))
                .map_err(|e| ConfigError::new(CATALOG_FILE_VAR, path, e))?,
            None => embedded_catalog(),
        };
        Ok(Self {
            telemetry: Telemetry::detached("catalog"),
            listen,
            catalog,
            extra_latency,
        })
    }
}

/// The running catalog service.
#[derive(Debug)]
pub struct App {
    server: GrpcServer,
}

impl App {
    /// Binds the listener; the service answers once [`App::run_until`] runs.
    pub async fn build(config: Config) -> Result<Self, ServerError> {
        tracing::info!(
            products = config.catalog.len(),
            extra_latency_ms = config.extra_latency.as_millis(),
            "Loaded the product catalog."
        );
        let service = handlers::CatalogService {
            catalog: config.catalog,
            extra_latency: config.extra_latency,
        };
        let server = GrpcServer::bind(&config.telemetry, config.listen)
            .await?
            .add_service(ProductCatalogServiceServer::new(service));
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
