//! A small shop around one ratings service: the real catalog and orders
//! services, all on loopback ports, one database shared by orders and
//! ratings (as in `boutique all`), and clients.

use boutique_platform::{
    Env, ServiceConfig,
    error::error_reason,
    testing::{HeldPort, TestServer},
};
use boutique_proto::{
    Money,
    boutique::{
        orders::v1::{
            AdvanceOrderRequest, BeginOrderRequest, OrderLine, OrderState, PriceOrderRequest,
            order_service_client::OrderServiceClient,
        },
        ratings::v1::{PutRatingRequest, Rating, ratings_service_client::RatingsServiceClient},
    },
};
use boutique_ratings::Config;
use boutique_store::{DatabaseUrl, Location, StoreConfig};
use boutique_testkit::postgres::PostgresServer;
use tonic::{Code, Status, transport::Channel};

/// Which database the shop keeps its orders and ratings in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// Products of the built-in catalog.
pub(crate) const SUNGLASSES: &str = "OLJCESPC7Z";
pub(crate) const TANK_TOP: &str = "66VCHSJNUP";

pub(crate) fn loopback() -> Env {
    Env::from_pairs([("LISTEN_ADDR", "127.0.0.1"), ("PORT", "0")])
}

/// A fresh account id, as the accounts service makes them.
pub(crate) fn account() -> String {
    format!("acct-{}", uuid::Uuid::new_v4())
}

pub(crate) fn usd(units: i64) -> Money {
    Money {
        currency_code: "USD".to_owned(),
        units,
        nanos: 0,
    }
}

/// The shop: catalog, orders and ratings, each a real server.
pub(crate) struct Shop {
    catalog: TestServer,
    orders: Option<TestServer>,
    /// The stopped orders service's port.
    orders_port: Option<HeldPort>,
    ratings: TestServer,
    pub(crate) client: RatingsServiceClient<Channel>,
    pub(crate) orders_client: OrderServiceClient<Channel>,
    _data: tempfile::TempDir,
    _postgres: Option<PostgresServer>,
}

impl Shop {
    /// Starts the shop on `backend` with ratings' config adjusted by
    /// `configure`; `None` (skip) when PostgreSQL is missing outside CI.
    pub(crate) async fn start(
        backend: Backend,
        configure: impl FnOnce(&mut Config),
    ) -> Option<Self> {
        let data = tempfile::tempdir().unwrap();
        let (database, postgres) = match backend {
            Backend::Sqlite => (
                StoreConfig::at(Location::SqliteFile(data.path().join("shop.db"))),
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
        let catalog =
            TestServer::start(boutique_catalog::Config::from_env(&loopback()).unwrap()).await;
        let mut orders_config = boutique_orders::Config::from_env(&loopback()).unwrap();
        orders_config.database = database.clone();
        let orders = TestServer::start(orders_config).await;
        let env = loopback()
            .with("PRODUCT_CATALOG_SERVICE_ADDR", catalog.addr().to_string())
            .with("ORDERS_SERVICE_ADDR", orders.addr().to_string());
        let mut config = Config::from_env(&env).unwrap();
        config.database = database;
        configure(&mut config);
        let ratings = TestServer::start(config).await;
        Some(Self {
            client: RatingsServiceClient::new(ratings.channel().await),
            orders_client: OrderServiceClient::new(orders.channel().await),
            catalog,
            orders: Some(orders),
            orders_port: None,
            ratings,
            _data: data,
            _postgres: postgres,
        })
    }

    /// Rates `product_id` as `account_id`.
    pub(crate) async fn put(
        &mut self,
        account_id: &str,
        product_id: &str,
        stars: i32,
        text: &str,
    ) -> Result<Rating, Status> {
        self.client
            .put_rating(PutRatingRequest {
                account_id: account_id.to_owned(),
                product_id: product_id.to_owned(),
                stars,
                text: text.to_owned(),
            })
            .await
            .map(tonic::Response::into_inner)
    }

    /// An order of `account_id` for one of `product_id`, opened, priced and
    /// moved to `to` through the orders service's API, as checkout does.
    pub(crate) async fn order(&mut self, account_id: &str, product_id: &str, to: OrderState) {
        let cart_id = format!("cart-{}", uuid::Uuid::new_v4());
        let order = self
            .orders_client
            .begin_order(BeginOrderRequest {
                owner: account_id.to_owned(),
                cart_id,
                request_digest: "digest".to_owned(),
                email: "shopper@example.com".to_owned(),
                currency_code: "USD".to_owned(),
                card_last_four: "0454".to_owned(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .order
            .unwrap();
        self.orders_client
            .price_order(PriceOrderRequest {
                order_id: order.id.clone(),
                lines: vec![OrderLine {
                    product_id: product_id.to_owned(),
                    quantity: 1,
                    unit_cost: Some(usd(20)),
                }],
                shipping_cost: Some(usd(9)),
                total: Some(usd(29)),
            })
            .await
            .unwrap();
        if to == OrderState::Created {
            return;
        }
        let charged = matches!(
            to,
            OrderState::Charged
                | OrderState::Shipped
                | OrderState::Dispatched
                | OrderState::Delivered
        );
        let path: Vec<OrderState> = if charged {
            let paid = [
                OrderState::Charged,
                OrderState::Shipped,
                OrderState::Dispatched,
                OrderState::Delivered,
            ];
            let end = paid.iter().position(|s| *s == to).unwrap();
            paid[..=end].to_vec()
        } else {
            vec![to]
        };
        for step in &path {
            self.orders_client
                .advance_order(AdvanceOrderRequest {
                    order_id: order.id.clone(),
                    to: (*step).into(),
                    transaction_id: "tx-1".to_owned(),
                    tracking_id: "TR-1".to_owned(),
                    reason: if charged {
                        String::new()
                    } else {
                        "declined".to_owned()
                    },
                    ..Default::default()
                })
                .await
                .unwrap();
        }
    }

    /// Stops the orders service, as an outage. Its port stays held (bound,
    /// not listening) so no other test's server is handed it and answers.
    pub(crate) async fn stop_orders(&mut self) {
        let held = self.orders.take().unwrap().stop_holding_port().await;
        self.orders_port = Some(held);
    }

    /// The ratings service's sample `name` with these labels (besides
    /// `service_name`).
    pub(crate) fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let text = self.ratings.telemetry().metrics().registry().render();
        let mut all = vec![("service_name", "ratings")];
        all.extend_from_slice(labels);
        boutique_platform::testing::sample(&text, name, &all)
            .unwrap_or_else(|| panic!("no {name}{all:?} in {text}"))
    }

    /// Stops everything, failing the test if anything did not stop cleanly.
    pub(crate) async fn stop(self) {
        self.ratings.stop().await;
        if let Some(orders) = self.orders {
            orders.stop().await;
        }
        self.catalog.stop().await;
    }
}

/// Fails unless `result` is `INVALID_ARGUMENT` with a message containing
/// `mentions`.
pub(crate) fn assert_invalid<T: std::fmt::Debug>(result: Result<T, Status>, mentions: &str) {
    let status = result.expect_err("refused");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status.message().contains(mentions),
        "{:?} does not mention {mentions:?}",
        status.message()
    );
    assert!(error_reason(&status).is_none());
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
