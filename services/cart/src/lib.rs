//! The cart service: one shopping cart per user (`hipstershop.CartService`).
//!
//! Wire-compatible with upstream, with the rules upstream lacks:
//! - a line's quantity is always `1..=10 000` ([`MAX_LINE_QUANTITY`]); an
//!   AddItem that would leave it outside is `INVALID_ARGUMENT` and changes nothing;
//! - AddItem is atomic, so concurrent adds never lose an update;
//! - idle carts expire in Redis (`CART_TTL`);
//! - a storage outage is `UNAVAILABLE` "cart storage unavailable: …", and
//!   readiness is `NOT_SERVING` while the store cannot be reached.
//!
//! Unlike upstream, GetCart of an unknown user returns `Cart{user_id, []}` with
//! the requested user id (upstream returns an empty `user_id`), and EmptyCart
//! removes the cart rather than storing an empty one.
//!
//! # Environment
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `PORT` | listen port | `7070` |
//! | `LISTEN_ADDR` | listen host | `0.0.0.0` |
//! | `REDIS_ADDR` | Redis as `host:port` (upstream's `redis-cart:6379`) or a `redis://` / `rediss://` URL; unset means the in-memory store | unset |
//! | `CART_STORE` | where carts live: `memory`, `redis` (needs `REDIS_ADDR`) or `database` (the shop's database: `DATABASE_URL`, else the SQLite file in `DATA_DIR`; see `boutique_store`); `memory` and `database` refuse a `REDIS_ADDR` | `redis` with `REDIS_ADDR`, else `memory` |
//! | `CART_TTL` | idle expiry of a cart as a Go duration (`48h`, `90m`); `0` disables it | `48h`, the frontend session cookie's lifetime |
//! | `FLAGD_*` | failure flags (`boutique_flags::config`): `cartFailure` fails that fraction of `EmptyCart` calls with `UNAVAILABLE`; `failedReadinessProbe` fails readiness (`""` and `hipstershop.CartService` NOT_SERVING) while liveness (`liveness`) stays SERVING | no flags |
//!
//! Upstream's Spanner and AlloyDB backends are not supported.
//!
//! # Redis layout (ours, not upstream's)
//!
//! - `cart:{<user_id>}`: a HASH `product_id -> quantity` (decimal string).
//! - `cart:{<user_id>}:order`: a LIST of the product ids in the order they
//!   were first added, so GetCart lists items in insertion order (as upstream,
//!   and independent of Redis' internal hash encoding).
//!
//! The braces are a Redis Cluster hash tag, so both keys of a cart always land
//! in the same slot and one script can touch both. A cart key always ends in
//! `}` and an order key in `:order`, so no user id can make one collide with
//! another user's key. AddItem is a single Lua script (check the limit, HINCRBY,
//! RPUSH for a new product, PEXPIRE both keys); GetCart reads both keys in one
//! MULTI/EXEC; EmptyCart deletes both. The idle expiry restarts on every
//! AddItem; reading a cart does not extend it.
//!
//! # In-memory store
//!
//! Carts live in the process and are lost on restart. `CART_TTL` applies
//! lazily: an idle cart reads as empty once expired and is dropped on its next
//! access or by a sweep that runs during adds.
//!
//! # Database store
//!
//! Carts live in the `carts` and `cart_lines` tables of the shop's database
//! (`boutique_store::carts`), so they survive a restart and every replica
//! shares them, as with Redis: what a rolling restart of the cart service
//! needs when there is no Redis. `CART_TTL` applies as in memory (a lazy
//! expiry and a sweep during adds).

#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod handlers;
mod health;
mod metrics;
pub mod store;

use std::{sync::Arc, time::Duration};

use boutique_flags::{Flags, FlagsConfig};
use boutique_platform::{
    App, ConfigError, Env, GrpcServer, Listen, ServerError, ServiceConfig, Telemetry,
    config::parse_go_duration,
};
use boutique_proto::{cart_service_server::CartServiceServer, directory};
use boutique_store::{CartBook, Database, StoreConfig};

pub use store::{
    CartStore, MAX_LINE_QUANTITY, StoreError, database::DatabaseStore, memory::MemoryStore,
    redis::RedisStore,
};

/// The default idle expiry: 48 h, the lifetime of the frontend's session
/// cookie, after which nobody can reach the cart any more.
pub const DEFAULT_TTL: Duration = Duration::from_secs(48 * 3600);

/// How often the health check pings the store (Redis, the database) by default.
pub const DEFAULT_HEALTH_INTERVAL: Duration = Duration::from_secs(1);

/// The variable that names where carts are kept.
pub const CART_STORE_VAR: &str = "CART_STORE";

/// Where carts are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// In the process (no `REDIS_ADDR`).
    Memory,
    /// In Redis at this URL (`redis://host:port` or `rediss://…`).
    Redis {
        /// The connection URL, normalised from `REDIS_ADDR`.
        url: String,
    },
    /// In the shop's database (`CART_STORE=database`).
    Database(StoreConfig),
}

impl Backend {
    /// Reads `CART_STORE` and `REDIS_ADDR` (and, for the database, its
    /// settings): the store named, checked against the other variable, so a
    /// Redis address is never silently ignored.
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let redis = env.parse_with("REDIS_ADDR", parse_redis_addr)?;
        let Some(named) = env.get(CART_STORE_VAR) else {
            return Ok(redis.map_or(Self::Memory, |url| Self::Redis { url }));
        };
        let refuse = |reason: &str| Err(ConfigError::new(CART_STORE_VAR, named, reason));
        match (named.to_ascii_lowercase().as_str(), redis) {
            ("redis", Some(url)) => Ok(Self::Redis { url }),
            ("redis", None) => refuse("needs REDIS_ADDR"),
            ("memory" | "database", Some(_)) => {
                refuse("REDIS_ADDR is set too: unset it, or set CART_STORE=redis")
            }
            ("memory", None) => Ok(Self::Memory),
            ("database", None) => Ok(Self::Database(StoreConfig::from_env(env)?)),
            _ => refuse("expected memory, redis or database"),
        }
    }
}

/// Cart settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen (`LISTEN_ADDR`, `PORT`, `REUSE_PORT`).
    pub listen: Listen,
    /// The store (`CART_STORE`, `REDIS_ADDR`).
    pub backend: Backend,
    /// Idle expiry of a cart (`CART_TTL`); `None` keeps carts forever.
    pub ttl: Option<Duration>,
    /// How often the health check pings the store. Not read from the
    /// environment; tests shorten it.
    pub health_interval: Duration,
    /// Where the failure flags come from (`FLAGD_*`).
    pub flags: FlagsConfig,
}

impl ServiceConfig for Config {
    const SERVICE: &'static directory::ServiceInfo = &directory::CART;

    /// Reads `PORT`, `LISTEN_ADDR`, `REUSE_PORT`, `REDIS_ADDR`, `CART_STORE`
    /// (and the database's settings) and `CART_TTL`.
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let backend = Backend::from_env(env)?;
        let ttl = env
            .parse_with("CART_TTL", parse_go_duration)?
            .unwrap_or(DEFAULT_TTL);
        Ok(Self {
            listen: env.listen(Self::SERVICE.port)?,
            backend,
            ttl: (!ttl.is_zero()).then_some(ttl),
            health_interval: DEFAULT_HEALTH_INTERVAL,
            flags: FlagsConfig::from_env(env)?,
        })
    }

    /// Opens the store and binds the listener. Redis is connected lazily, so
    /// the service starts even while Redis is still coming up (and reports
    /// NOT_SERVING until it answers).
    async fn build(self, telemetry: Telemetry) -> Result<App, ServerError> {
        let store: Arc<dyn CartStore> = match &self.backend {
            Backend::Memory => Arc::new(MemoryStore::new(self.ttl)),
            Backend::Redis { url } => {
                Arc::new(RedisStore::connect(url, self.ttl).map_err(|source| {
                    ServerError::Setup {
                        what: "the Redis client",
                        source: source.into(),
                    }
                })?)
            }
            Backend::Database(database) => {
                Arc::new(DatabaseStore::new(open_carts(database, self.ttl).await?))
            }
        };
        let flags = Flags::new(&self.flags, &telemetry);
        let server = GrpcServer::bind(&telemetry, self.listen)
            .await?
            .add_service(CartServiceServer::new(handlers::Cart::new(
                store.clone(),
                metrics::CartMetrics::register(&telemetry),
                flags.clone(),
            )));
        let readiness = server.readiness();
        let interval = self.health_interval;
        Ok(App::new(server.local_addr(), move |shutdown| {
            // The store watch runs until shutdown begins (readiness keeps the
            // drain's NOT_SERVING whatever is reported after it).
            let shutdown = async move {
                tokio::select! {
                    () = shutdown => {}
                    () = health::watch_store(store, readiness, interval, flags) => {}
                }
            };
            server.run_until(shutdown)
        }))
    }
}

/// Connects to the carts' database and applies the migrations.
async fn open_carts(config: &StoreConfig, ttl: Option<Duration>) -> Result<CartBook, ServerError> {
    let setup = |source: boutique_store::StoreError| ServerError::Setup {
        what: "the carts' database",
        source: source.into(),
    };
    let database = Database::connect(config).await.map_err(setup)?;
    database.migrate().await.map_err(setup)?;
    tracing::info!(database = %config.location, "Carts are kept in the database.");
    Ok(CartBook::new(&database, ttl))
}

/// Accepts `host:port` (upstream's form) or a `redis://` / `rediss://` URL and
/// returns a URL the Redis client understands. The URL is checked here so a
/// typo fails at startup rather than at the first request.
pub fn parse_redis_addr(value: &str) -> Result<String, String> {
    let url = if value.contains("://") {
        let scheme = value.split("://").next().unwrap_or_default();
        if scheme != "redis" && scheme != "rediss" {
            return Err(format!(
                "scheme {scheme:?} is not supported; use host:port, redis:// or rediss://"
            ));
        }
        value.to_owned()
    } else {
        let (host, port) = value
            .rsplit_once(':')
            .ok_or("expected host:port or a redis:// URL")?;
        if host.is_empty() || host.contains('/') || port.parse::<u16>().is_err() {
            return Err("expected host:port or a redis:// URL".to_owned());
        }
        format!("redis://{value}")
    };
    redis::Client::open(url.as_str()).map_err(|e| e.to_string())?;
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_memory_with_48h_expiry() {
        let config = Config::from_env(&Env::default()).unwrap();
        assert_eq!(config.backend, Backend::Memory);
        assert_eq!(config.ttl, Some(Duration::from_secs(172_800)));
        assert_eq!(config.listen.port(), 7070);
    }

    #[test]
    fn reads_redis_addresses_in_every_form() {
        let cases = [
            ("redis-cart:6379", "redis://redis-cart:6379"),
            ("127.0.0.1:1234", "redis://127.0.0.1:1234"),
            ("redis://redis-cart:6379/0", "redis://redis-cart:6379/0"),
            ("rediss://cache.example:6380", "rediss://cache.example:6380"),
        ];
        for (value, url) in cases {
            let config = Config::from_env(&Env::from_pairs([("REDIS_ADDR", value)])).unwrap();
            assert_eq!(
                config.backend,
                Backend::Redis { url: url.into() },
                "{value}"
            );
        }
        for bad in [
            "redis-cart",
            ":6379",
            "redis-cart:x",
            "http://redis:6379",
            "a/b:1",
        ] {
            let err = Config::from_env(&Env::from_pairs([("REDIS_ADDR", bad)])).unwrap_err();
            assert_eq!(err.var, "REDIS_ADDR", "{bad}");
        }
    }

    #[test]
    fn cart_store_names_the_store_and_never_ignores_a_redis_address() {
        let backend = |pairs: &[(&str, &str)]| Backend::from_env(&Env::from_pairs(pairs.to_vec()));
        let redis = ("REDIS_ADDR", "redis-cart:6379");
        assert_eq!(
            backend(&[("CART_STORE", "redis"), redis]).unwrap(),
            Backend::Redis {
                url: "redis://redis-cart:6379".into()
            }
        );
        assert_eq!(
            backend(&[("CART_STORE", "Memory")]).unwrap(),
            Backend::Memory
        );
        let Backend::Database(database) = backend(&[
            ("CART_STORE", "database"),
            ("DATABASE_URL", "sqlite:///tmp/shop.db"),
        ])
        .unwrap() else {
            panic!("not the database");
        };
        assert_eq!(
            database.location,
            boutique_store::Location::SqliteFile("/tmp/shop.db".into())
        );
        for bad in [
            vec![("CART_STORE", "redis")],
            vec![("CART_STORE", "database"), redis],
            vec![("CART_STORE", "memory"), redis],
            vec![("CART_STORE", "disk")],
        ] {
            let error = backend(&bad).unwrap_err();
            assert_eq!(error.var, CART_STORE_VAR, "{bad:?}");
        }
    }

    #[test]
    fn reads_cart_ttl() {
        let ttl = |value: &str| Config::from_env(&Env::from_pairs([("CART_TTL", value)]));
        assert_eq!(ttl("90m").unwrap().ttl, Some(Duration::from_secs(5400)));
        assert_eq!(ttl("0").unwrap().ttl, None);
        assert_eq!(ttl("0s").unwrap().ttl, None);
        assert_eq!(ttl("soon").unwrap_err().var, "CART_TTL");
    }
}
