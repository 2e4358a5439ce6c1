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
//! Also unlike upstream, the catalog's ids are reused for `CACHE_TTL` (five
//! seconds by default) instead of fetched whole on every call: the catalog
//! rarely changes and the fetch doubled the cost of a recommendation. A
//! catalog change or outage shows once the cached ids expire; failures are
//! never cached.
//!
//! # Environment
//!
//! | Variable | Default | Meaning |
//! |---|---|---|
//! | `PORT` | `8080` | Port to listen on. |
//! | `LISTEN_ADDR` | `0.0.0.0` | Host to listen on. |
//! | `PRODUCT_CATALOG_SERVICE_ADDR` | required | The catalog, as `host:port` (or `http://host:port`). The connection is made lazily, so this service may start before the catalog. |
//! | `CACHE_TTL` | `5s` | How long the catalog's ids are reused; a Go duration up to `60s`. `0` asks the catalog on every call, as upstream. |

mod cache;
mod handlers;
mod pick;

use std::{future::Future, net::SocketAddr, time::Duration};

use boutique_platform::config::parse_go_duration;
use boutique_platform::{ConfigError, Env, GrpcServer, Telemetry, grpc::ServerError};
use boutique_proto::{
    product_catalog_service_client::ProductCatalogServiceClient,
    recommendation_service_server::RecommendationServiceServer,
};

pub use cache::DEFAULT_TTL;
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
    /// This service's logs, metrics and traces: [`Telemetry::detached`] until
    /// the binary hands over the process's.
    pub telemetry: Telemetry,
    /// The catalog's `host:port` (`PRODUCT_CATALOG_SERVICE_ADDR`).
    pub catalog_addr: String,
    /// How long the catalog's ids are reused (`CACHE_TTL`; zero: not at all).
    pub cache_ttl: Duration,
}

/// The variable setting how long the catalog's ids are cached.
pub const CACHE_TTL_VAR: &str = "CACHE_TTL";

/// The longest `CACHE_TTL` accepted: the cache absorbs load, it must not hide
/// catalog changes, and a longer value is more likely a typo (`5m` for `5s`).
pub const MAX_CACHE_TTL: Duration = Duration::from_secs(60);

fn parse_cache_ttl(value: &str) -> Result<Duration, String> {
    let ttl = parse_go_duration(value)?;
    if ttl > MAX_CACHE_TTL {
        return Err(format!("at most {}s", MAX_CACHE_TTL.as_secs()));
    }
    Ok(ttl)
}

impl Config {
    /// Reads `PORT`, `LISTEN_ADDR`, `PRODUCT_CATALOG_SERVICE_ADDR` and `CACHE_TTL`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            telemetry: Telemetry::detached("recommendation"),
            listen: env.listen_addr(DEFAULT_PORT)?,
            catalog_addr: env.require_service_addr(CATALOG_ADDR_VAR)?,
            cache_ttl: env
                .parse_with(CACHE_TTL_VAR, parse_cache_ttl)?
                .unwrap_or(DEFAULT_TTL),
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
        let channel = boutique_platform::grpc::lazy_channel(
            CATALOG_ADDR_VAR,
            &config.catalog_addr,
            &config.telemetry,
        )?;
        let service = handlers::Recommender {
            catalog: ProductCatalogServiceClient::new(channel),
            cache: cache::catalog_cache(config.cache_ttl),
        };
        let server = GrpcServer::bind(&config.telemetry, config.listen)
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
