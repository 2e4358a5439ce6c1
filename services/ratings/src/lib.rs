//! The ratings service (`boutique.ratings.v1.RatingsService`): shoppers'
//! star ratings and short reviews of products.
//!
//! Ours, not upstream's. The storefront writes and reads through it; it asks
//! the catalog whether a product exists and the orders service whether the
//! shopper bought it. It owns the `rating*` tables of the database (see
//! `boutique_store::ratings`, where the guarantees live):
//!
//! - **One rating per account and product**: PutRating creates it or
//!   replaces its stars and text.
//! - **Summaries equal their rows**: each product's count and stars' sum move
//!   in the same transaction as every write, so GetSummaries reads one row
//!   per product (one indexed query for a whole page of products) and never
//!   counts.
//! - **Verified purchase**: set when the account has an order with the
//!   product in state charged, shipped, dispatched or delivered, found with
//!   the orders service's `ListOrders` (the account's newest orders, at most
//!   [`MAX_ORDERS_READ`]). When the orders service cannot answer in
//!   time the rating is still stored, unverified, and a warning is logged: a
//!   shopper's review is not lost to an outage elsewhere. A later write by the
//!   account checks again; once verified, a rating stays verified.
//! - **Write limit per account** (PutRating and DeleteRating together):
//!   `RATING_WRITES_PER_MINUTE`, in bursts of as many, counted in the database
//!   so every replica shares it; beyond it `RESOURCE_EXHAUSTED` with the
//!   reason `RATING_RATE_LIMITED` and `retry_after_ms`.
//!
//! # Trust
//!
//! This service authenticates nobody: it trusts the `account_id` in each
//! request. The storefront signs shoppers in with the accounts service and
//! passes the signed-in account's id (`acct-<uuid>`; guests cannot rate).
//! Only the storefront may reach this service, which the deployment enforces
//! with a NetworkPolicy (and Istio's AuthorizationPolicy where used).
//!
//! Text is plain text, stored exactly as sent (after the checks below): it
//! may contain `<`, `&` and quotes, and whoever shows it must escape it.
//!
//! # Environment
//!
//! | Variable | Default | Meaning |
//! |---|---|---|
//! | `PORT` | `5090` | Port to listen on. |
//! | `LISTEN_ADDR` | `0.0.0.0` | Host to listen on. |
//! | `PRODUCT_CATALOG_SERVICE_ADDR` | required | The catalog (`host:port`): a rated product must exist. Connected lazily. |
//! | `ORDERS_SERVICE_ADDR` | required | The orders service (`host:port`), for verified purchases. Connected lazily. |
//! | `DATABASE_URL` | unset: an SQLite file in `DATA_DIR` | `postgres://…` for PostgreSQL (shared by replicas), `sqlite::memory:` for a throwaway database; see `boutique_store` for `DATA_DIR` and the pool settings. |
//! | `RATING_WRITES_PER_MINUTE` | `10` | Writes (puts and deletes) one account may make per minute, and in one burst; `0` turns the limit off. |
//! | `CACHE_TTL` | `5s` | How long this replica reuses a product's summary (a Go duration up to `60s`; `0`: read the database every time). Its own writes take effect at once; another replica's within the TTL. |

#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod handlers;
mod metrics;
mod summaries;
mod validate;
mod verify;

use std::time::Duration;

use boutique_platform::{
    App, ConfigError, Env, GrpcServer, Listen, Peers, ServerError, ServiceConfig, Telemetry,
    config::{CACHE_TTL_VAR, parse_cache_ttl},
};
use boutique_proto::{
    boutique::{
        orders::v1::order_service_client::OrderServiceClient,
        ratings::v1::ratings_service_server::RatingsServiceServer,
    },
    directory::{self, CATALOG, ORDERS},
    product_catalog_service_client::ProductCatalogServiceClient,
};
use boutique_store::{Database, RatingBook, StoreConfig, ratings::limit::WriteLimit};

pub use validate::{MAX_PAGE, MAX_SUMMARIES};
pub use verify::MAX_ORDERS_READ;

/// The variable setting how many writes an account may make per minute.
pub const WRITES_PER_MINUTE_VAR: &str = "RATING_WRITES_PER_MINUTE";

/// Writes per account per minute unless `RATING_WRITES_PER_MINUTE` says
/// otherwise: plenty for a person editing a review, few for a script.
pub const DEFAULT_WRITES_PER_MINUTE: u32 = 10;

/// How long a product's summary is reused unless `CACHE_TTL` says otherwise.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(5);

/// Ratings settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen (`LISTEN_ADDR`, `PORT`, `REUSE_PORT`).
    pub listen: Listen,
    /// The catalog and the orders service (`*_SERVICE_ADDR`).
    pub peers: Peers,
    /// The database (`DATABASE_URL`, `DATA_DIR`, pool settings).
    pub database: StoreConfig,
    /// The per-account write limit (`RATING_WRITES_PER_MINUTE`); `None`: none.
    pub write_limit: Option<WriteLimit>,
    /// How long a summary is reused (`CACHE_TTL`; zero: not at all).
    pub cache_ttl: Duration,
}

impl ServiceConfig for Config {
    const SERVICE: &'static directory::ServiceInfo = &directory::RATINGS;

    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let writes = env.parse_or(WRITES_PER_MINUTE_VAR, DEFAULT_WRITES_PER_MINUTE)?;
        Ok(Self {
            listen: env.listen(Self::SERVICE.port)?,
            peers: Peers::from_env(env, Self::SERVICE)?,
            database: StoreConfig::from_env(env)?,
            write_limit: (writes > 0).then(|| WriteLimit::per_minute(writes)),
            cache_ttl: env
                .parse_with(CACHE_TTL_VAR, parse_cache_ttl)?
                .unwrap_or(DEFAULT_CACHE_TTL),
        })
    }

    async fn build(self, telemetry: Telemetry) -> Result<App, ServerError> {
        let book = open(&self.database).await?;
        let handler = handlers::Ratings {
            summaries: summaries::Summaries::new(book.clone(), self.cache_ttl),
            book,
            catalog: ProductCatalogServiceClient::new(self.peers.channel(&CATALOG, &telemetry)?),
            orders: OrderServiceClient::new(self.peers.channel(&ORDERS, &telemetry)?),
            write_limit: self.write_limit,
            metrics: metrics::RatingsMetrics::register(&telemetry),
        };
        let server = GrpcServer::bind(&telemetry, self.listen)
            .await?
            .add_service(RatingsServiceServer::new(handler));
        Ok(server.into())
    }
}

/// Connects to the database and applies the migrations.
async fn open(config: &StoreConfig) -> Result<RatingBook, ServerError> {
    let setup = |source: boutique_store::StoreError| ServerError::Setup {
        what: "the ratings database",
        source: source.into(),
    };
    let database = Database::connect(config).await.map_err(setup)?;
    database.migrate().await.map_err(setup)?;
    tracing::info!(database = %config.location, "Ratings are kept in the database.");
    Ok(RatingBook::new(&database))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Env {
        Env::from_pairs([
            ("PRODUCT_CATALOG_SERVICE_ADDR", "catalog:3550"),
            ("ORDERS_SERVICE_ADDR", "orders:5060"),
            ("DATABASE_URL", "sqlite::memory:"),
        ])
    }

    #[test]
    fn defaults_and_settings() {
        let config = Config::from_env(&env()).unwrap();
        assert_eq!(config.listen.port(), 5090);
        assert_eq!(config.write_limit, Some(WriteLimit::per_minute(10)));
        assert_eq!(config.cache_ttl, DEFAULT_CACHE_TTL);
        let config = Config::from_env(
            &env()
                .with(WRITES_PER_MINUTE_VAR, "30")
                .with(CACHE_TTL_VAR, "0"),
        )
        .unwrap();
        assert_eq!(config.write_limit, Some(WriteLimit::per_minute(30)));
        assert_eq!(config.cache_ttl, Duration::ZERO);
        let off = Config::from_env(&env().with(WRITES_PER_MINUTE_VAR, "0")).unwrap();
        assert_eq!(off.write_limit, None);
    }

    #[test]
    fn bad_settings_name_their_variable() {
        for (var, value) in [
            (WRITES_PER_MINUTE_VAR, "-1"),
            (WRITES_PER_MINUTE_VAR, "ten"),
            (CACHE_TTL_VAR, "5m"),
        ] {
            let error = Config::from_env(&env().with(var, value)).unwrap_err();
            assert!(error.to_string().contains(var), "{error}");
        }
        let error =
            Config::from_env(&Env::from_pairs([("ORDERS_SERVICE_ADDR", "o:1")])).unwrap_err();
        assert!(
            error.to_string().contains("PRODUCT_CATALOG_SERVICE_ADDR"),
            "{error}"
        );
    }
}
