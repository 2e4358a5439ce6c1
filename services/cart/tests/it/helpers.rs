//! Starts the service on any backend and hands out clients.

use std::time::Duration;

use boutique_cart::Config;
use boutique_platform::{Env, ServiceConfig, testing::TestServer};
use boutique_proto::{
    AddItemRequest, CartItem, EmptyCartRequest, GetCartRequest,
    cart_service_client::CartServiceClient,
};
use boutique_testkit::redis::RedisServer;
use tonic::{Status, transport::Channel};

/// A running cart service, and the Redis behind it when there is one.
pub(crate) struct TestApp {
    pub(crate) server: TestServer,
    pub(crate) client: CartServiceClient<Channel>,
    pub(crate) redis: Option<RedisServer>,
    /// The directory of the database store's SQLite file.
    _data: Option<tempfile::TempDir>,
}

/// Which store a test runs against.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Backend {
    Memory,
    Redis,
    Database,
}

/// `CART_STORE=database` on an SQLite file in `dir`.
pub(crate) fn database_env(dir: &std::path::Path) -> Env {
    Env::from_pairs([
        ("LISTEN_ADDR", "127.0.0.1"),
        ("PORT", "0"),
        ("CART_STORE", "database"),
    ])
    .with(
        "DATABASE_URL",
        format!("sqlite://{}", dir.join("carts.db").display()),
    )
}

impl TestApp {
    /// Starts the service on `backend` with extra environment `vars`; `None`
    /// when the Redis variant is skipped (Redis not installed, outside CI).
    pub(crate) async fn start(backend: Backend, vars: &[(&str, &str)]) -> Option<Self> {
        let mut env = Env::from_pairs([("LISTEN_ADDR", "127.0.0.1"), ("PORT", "0")]);
        let mut data = None;
        let redis = match backend {
            Backend::Memory => None,
            Backend::Redis => {
                let redis = RedisServer::start()?;
                // Upstream's host:port form.
                env = env.with("REDIS_ADDR", redis.addr().to_string());
                Some(redis)
            }
            Backend::Database => {
                let dir = tempfile::tempdir().unwrap();
                env = database_env(dir.path());
                data = Some(dir);
                None
            }
        };
        for (name, value) in vars {
            env = env.with(name, *value);
        }
        let mut app = Self::spawn(config(&env), redis).await;
        app._data = data;
        Some(app)
    }

    pub(crate) async fn spawn(config: Config, redis: Option<RedisServer>) -> Self {
        let server = TestServer::start(config).await;
        let client = CartServiceClient::new(server.channel().await);
        Self {
            server,
            client,
            redis,
            _data: None,
        }
    }

    /// A client on a connection of its own.
    pub(crate) async fn new_client(&self) -> CartServiceClient<Channel> {
        CartServiceClient::new(self.server.channel().await)
    }

    pub(crate) async fn add(&self, user: &str, product: &str, quantity: i32) -> Result<(), Status> {
        add(&mut self.client.clone(), user, product, quantity).await
    }

    pub(crate) async fn items(&self, user: &str) -> Vec<(String, i32)> {
        let cart = self
            .client
            .clone()
            .get_cart(GetCartRequest {
                user_id: user.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(cart.user_id, user);
        cart.items
            .into_iter()
            .map(|i| (i.product_id, i.quantity))
            .collect()
    }

    pub(crate) async fn empty(&self, user: &str) -> Result<(), Status> {
        self.client
            .clone()
            .empty_cart(EmptyCartRequest {
                user_id: user.into(),
            })
            .await
            .map(|_| ())
    }

    pub(crate) async fn stop(self) {
        self.server.stop().await;
    }
}

/// The service's settings from `env`, its store checked often.
pub(crate) fn config(env: &Env) -> Config {
    let mut config = Config::from_env(env).unwrap();
    config.health_interval = Duration::from_millis(100);
    config
}

pub(crate) async fn add(
    client: &mut CartServiceClient<Channel>,
    user: &str,
    product: &str,
    quantity: i32,
) -> Result<(), Status> {
    client
        .add_item(AddItemRequest {
            user_id: user.into(),
            item: Some(CartItem {
                product_id: product.into(),
                quantity,
            }),
        })
        .await
        .map(|_| ())
}

/// `[(product, quantity)]` as owned pairs, for comparisons.
pub(crate) fn lines(pairs: &[(&str, i32)]) -> Vec<(String, i32)> {
    pairs.iter().map(|(p, q)| ((*p).to_owned(), *q)).collect()
}

/// Defines `memory::<name>`, `redis::<name>` and `database::<name>` tests
/// running the scenario `<name>(TestApp)` from the calling module, so every
/// store passes one suite.
macro_rules! on_every_backend {
    ($($name:ident),+ $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = crate::helpers::TestApp::start(crate::helpers::Backend::Memory, &[])
                        .await
                        .expect("the memory backend always starts");
                    super::$name(app).await;
                }
            )+
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(missing_redis_server, ignore = "needs redis-server (Debian redis-server)")]
                async fn $name() {
                    let Some(app) =
                        crate::helpers::TestApp::start(crate::helpers::Backend::Redis, &[]).await
                    else {
                        eprintln!("SKIPPED {}: no redis-server", stringify!($name));
                        return;
                    };
                    super::$name(app).await;
                }
            )+
        }
        mod database {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app =
                        crate::helpers::TestApp::start(crate::helpers::Backend::Database, &[])
                            .await
                            .expect("the database backend always starts");
                    super::$name(app).await;
                }
            )+
        }
    };
}
pub(crate) use on_every_backend;
