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
//! | `FLAGD_*` | no flags | Failure flags (`boutique_flags::config`): `recommendationCacheFailure` makes a cache that grows on every call (the catalog again plus a quarter of what it holds), up to [`LEAK_CAP`] bytes, given back when the flag goes off. |

mod cache;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod handlers;
mod pick;

use std::time::Duration;

use boutique_flags::{Flags, FlagsConfig, leak::Leak};
use boutique_platform::{
    App, ConfigError, Env, GrpcServer, Listen, Peers, ServerError, ServiceConfig, Telemetry,
    config::{CACHE_TTL_VAR, parse_cache_ttl},
};
use boutique_proto::{
    directory::{self, CATALOG},
    product_catalog_service_client::ProductCatalogServiceClient,
    recommendation_service_server::RecommendationServiceServer,
};

pub use cache::DEFAULT_TTL;
pub use pick::MAX_RECOMMENDATIONS;

/// Recommendation settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen (`LISTEN_ADDR`, `PORT`, `REUSE_PORT`).
    pub listen: Listen,
    /// The catalog (`PRODUCT_CATALOG_SERVICE_ADDR`).
    pub peers: Peers,
    /// How long the catalog's ids are reused (`CACHE_TTL`; zero: not at all).
    pub cache_ttl: Duration,
    /// Where the failure flags come from (`FLAGD_*`).
    pub flags: FlagsConfig,
}

/// The most memory `recommendationCacheFailure` makes the service hold.
pub const LEAK_CAP: usize = 256 << 20;

impl ServiceConfig for Config {
    const SERVICE: &'static directory::ServiceInfo = &directory::RECOMMENDATION;

    /// Reads `PORT`, `LISTEN_ADDR`, `PRODUCT_CATALOG_SERVICE_ADDR` and `CACHE_TTL`.
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            listen: env.listen(Self::SERVICE.port)?,
            peers: Peers::from_env(env, Self::SERVICE)?,
            cache_ttl: env
                .parse_with(CACHE_TTL_VAR, parse_cache_ttl)?
                .unwrap_or(DEFAULT_TTL),
            flags: FlagsConfig::from_env(env)?,
        })
    }

    async fn build(self, telemetry: Telemetry) -> Result<App, ServerError> {
        let service = handlers::Recommender {
            catalog: ProductCatalogServiceClient::new(self.peers.channel(&CATALOG, &telemetry)?),
            cache: cache::catalog_cache(self.cache_ttl),
            flags: Flags::new(&self.flags, &telemetry),
            leak: Leak::with_cap(LEAK_CAP),
        };
        let server = GrpcServer::bind(&telemetry, self.listen)
            .await?
            .add_service(RecommendationServiceServer::new(service));
        Ok(server.into())
    }
}
