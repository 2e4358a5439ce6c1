//! The recommendation service (`hipstershop.RecommendationService`).
//!
//! ListRecommendations asks the product catalog for every product, leaves out
//! the ones in the request, and returns a random sample of at most five in
//! random order, as upstream. `user_id` is ignored.
//!
//! Unlike upstream (where any catalog failure is `UNKNOWN`), catalog failures
//! are classified: a catalog that is down or unreachable reads `UNAVAILABLE`,
//! a deadline that ran out `DEADLINE_EXCEEDED`. The caller's deadline is passed
//! on to the catalog call; without one the call gets ten seconds.
//!
//! # Environment
//!
//! | Variable | Default | Meaning |
//! |---|---|---|
//! | `PORT` | `8080` | Port to listen on. |
//! | `LISTEN_ADDR` | `0.0.0.0` | Host to listen on. |
//! | `PRODUCT_CATALOG_SERVICE_ADDR` | required | The catalog, as `host:port` (or `http://host:port`). The connection is made lazily, so this service may start before the catalog. |

mod handlers;
mod pick;

use std::{future::Future, net::SocketAddr};

use boutique_platform::{ConfigError, Env, GrpcServer, grpc::ServerError};
use boutique_proto::{
    product_catalog_service_client::ProductCatalogServiceClient,
    recommendation_service_server::RecommendationServiceServer,
};

pub use pick::MAX_RECOMMENDATIONS;

/// The upstream default port.
pub const DEFAULT_PORT: u16 = 8080;

/// The variable holding the catalog's address.
pub const CATALOG_ADDR_VAR: &str = "PRODUCT_CATALOG_SERVICE_ADDR";

/// Recommendation settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen (`LISTEN_ADDR`, `PORT`).
    pub listen: SocketAddr,
    /// The catalog's `host:port` (`PRODUCT_CATALOG_SERVICE_ADDR`).
    pub catalog_addr: String,
}

impl Config {
    /// Reads `PORT`, `LISTEN_ADDR` and `PRODUCT_CATALOG_SERVICE_ADDR`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            listen: env.listen_addr(DEFAULT_PORT)?,
            catalog_addr: env.require_service_addr(CATALOG_ADDR_VAR)?,
        })
    }
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The catalog address cannot be made into a channel.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The listener could not be bound.
    #[error(transparent)]
    Server(#[from] ServerError),
}

/// The running recommendation service.
#[derive(Debug)]
pub struct App {
    server: GrpcServer,
}

impl App {
    /// Binds the listener and prepares a lazy catalog channel; the service
    /// answers once [`App::run_until`] runs.
    pub async fn build(config: Config) -> Result<Self, BuildError> {
        // Lazy: connecting on first use lets us start before the catalog and
        // reconnect after it restarts.
        let channel =
            boutique_platform::grpc::lazy_channel(CATALOG_ADDR_VAR, &config.catalog_addr)?;
        let service = handlers::Recommender {
            catalog: ProductCatalogServiceClient::new(channel),
        };
        let server = GrpcServer::bind("recommendation", config.listen)
            .await?
            .add_service(RecommendationServiceServer::new(service));
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
