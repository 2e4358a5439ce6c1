//! The orders service on a fresh database of each kind, and a client.

use boutique_orders::Config;
use boutique_platform::{Env, ServiceConfig, testing::TestServer};
use boutique_proto::{
    Address,
    boutique::orders::v1::{BeginOrderRequest, Order, order_service_client::OrderServiceClient},
};
use boutique_store::{DatabaseUrl, Location, StoreConfig};
use boutique_testkit::postgres::PostgresServer;
use tonic::transport::Channel;

/// Which database the service keeps its orders in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// A running orders service and a client of it.
pub(crate) struct Orders {
    _server: TestServer,
    pub(crate) client: OrderServiceClient<Channel>,
    _data: tempfile::TempDir,
    _postgres: Option<PostgresServer>,
}

impl Orders {
    /// The service on a fresh database of `backend`; `None` (skip) when
    /// PostgreSQL is missing outside CI.
    pub(crate) async fn start(backend: Backend) -> Option<Self> {
        let data = tempfile::tempdir().unwrap();
        let (database, postgres) = match backend {
            Backend::Sqlite => (
                StoreConfig::at(Location::SqliteFile(data.path().join("orders.db"))),
                None,
            ),
            Backend::Postgres => {
                let server = PostgresServer::start()?;
                let url = server.create_database();
                (
                    StoreConfig::at(Location::Postgres(DatabaseUrl::new(url))),
                    Some(server),
                )
            }
        };
        let env = Env::from_pairs([("LISTEN_ADDR", "127.0.0.1"), ("PORT", "0")]);
        let mut config = Config::from_env(&env).unwrap();
        config.database = database;
        let server = TestServer::start(config).await;
        Some(Self {
            client: OrderServiceClient::new(server.channel().await),
            _server: server,
            _data: data,
            _postgres: postgres,
        })
    }

    /// Opens an order of `owner` for the cart `cart_id`, as checkout does.
    pub(crate) async fn begin(&mut self, owner: &str, cart_id: &str, key: &str) -> Order {
        self.client
            .begin_order(BeginOrderRequest {
                owner: owner.to_owned(),
                cart_id: cart_id.to_owned(),
                idempotency_key: key.to_owned(),
                request_digest: "digest".to_owned(),
                email: "shopper@example.com".to_owned(),
                shipping_address: Some(Address {
                    street_address: "1600 Amphitheatre Parkway".to_owned(),
                    city: "Mountain View".to_owned(),
                    state: "CA".to_owned(),
                    country: "United States".to_owned(),
                    zip_code: 94043,
                }),
                currency_code: "USD".to_owned(),
                card_last_four: "0454".to_owned(),
            })
            .await
            .unwrap()
            .into_inner()
            .order
            .unwrap()
    }

    /// Every order of `owner` (one page is enough here).
    pub(crate) async fn of(&mut self, owner: &str) -> Vec<Order> {
        self.client
            .list_orders(boutique_proto::boutique::orders::v1::ListOrdersRequest {
                owner: owner.to_owned(),
                page_size: 100,
                page_token: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .orders
    }
}

/// Defines, for each `async fn name(Backend)`, a module `name` with a test
/// on SQLite and one on PostgreSQL.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use crate::helpers::Backend;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(missing_postgres, ignore = "needs PostgreSQL (Debian postgresql)")]
                async fn postgres() {
                    super::$name(Backend::Postgres).await;
                }
            }
        )*
    };
}
pub(crate) use on_both_backends;
