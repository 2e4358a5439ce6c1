//! Starts the real shop (catalog, currency, payment, shipping, email, cart)
//! on loopback ports, checkout pointed at it, and hands out clients.
//!
//! The orders service keeps its tables in an SQLite file of the shop's own,
//! or, with `CHECKOUT_TESTS_DATABASE=postgres`, in a PostgreSQL server the
//! shop starts on loopback: `.ci/run` runs this whole suite both ways.

use std::collections::HashMap;

use boutique_checkout::Config;
use boutique_money::Money;
use boutique_platform::{
    Env, GrpcServer, ServiceConfig, Telemetry,
    testing::{HeldPort, TestServer},
};
use boutique_proto::{
    AddItemRequest, Address, CartItem, CreditCardInfo, CurrencyConversionRequest, GetCartRequest,
    GetProductRequest, PlaceOrderRequest, cart_service_client::CartServiceClient,
    checkout_service_client::CheckoutServiceClient, currency_service_client::CurrencyServiceClient,
    product_catalog_service_client::ProductCatalogServiceClient,
};
use boutique_store::{Database, DatabaseUrl, Location, OrderBook, StoreConfig, orders::Order};
use boutique_testkit::postgres::PostgresServer;
use tonic::transport::Channel;

pub(crate) fn loopback() -> Env {
    Env::from_pairs([("LISTEN_ADDR", "127.0.0.1"), ("PORT", "0")])
}

/// True when the suite runs on PostgreSQL (see the module docs).
fn on_postgres() -> bool {
    std::env::var("CHECKOUT_TESTS_DATABASE").is_ok_and(|v| v == "postgres")
}

/// Builds and runs one of the real services with its defaults.
macro_rules! spawn_real {
    ($krate:ident) => {{
        let config = $krate::Config::from_env(&loopback()).unwrap();
        TestServer::start(config).await
    }};
}

/// Runs a fake service (any generated server) on a loopback port.
pub(crate) async fn spawn_fake<S>(name: &'static str, service: S) -> TestServer
where
    S: tonic::server::NamedService
        + tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let listen = loopback().listen_addr(0).unwrap();
    let server = GrpcServer::bind(&Telemetry::detached(name), listen)
        .await
        .unwrap()
        .add_service(service);
    TestServer::spawn(server.local_addr(), |stop| server.run_until(stop))
}

/// A real currency service on its own, for fakes that forward to one.
pub(crate) async fn spawn_currency() -> TestServer {
    spawn_real!(boutique_currency)
}

/// The dependency variables, by the service name used in [`Shop`].
const VARS: [(&str, &str); 7] = [
    ("orders", "ORDERS_SERVICE_ADDR"),
    ("catalog", "PRODUCT_CATALOG_SERVICE_ADDR"),
    ("currency", "CURRENCY_SERVICE_ADDR"),
    ("payment", "PAYMENT_SERVICE_ADDR"),
    ("shipping", "SHIPPING_SERVICE_ADDR"),
    ("email", "EMAIL_SERVICE_ADDR"),
    ("cart", "CART_SERVICE_ADDR"),
];

/// The whole shop around one checkout.
pub(crate) struct Shop {
    /// The real backends, by name, until stopped.
    backends: HashMap<&'static str, TestServer>,
    /// Fakes started by the test, stopped with the shop.
    fakes: Vec<TestServer>,
    /// The ports of backends the test stopped.
    held_ports: Vec<HeldPort>,
    checkout: TestServer,
    pub(crate) client: CheckoutServiceClient<Channel>,
    pub(crate) cart: CartServiceClient<Channel>,
    pub(crate) catalog: ProductCatalogServiceClient<Channel>,
    pub(crate) currency: CurrencyServiceClient<Channel>,
    /// The orders service's tables, read directly.
    pub(crate) book: OrderBook,
    /// Where they are.
    database: StoreConfig,
    /// Checkout's environment (every address), for replicas.
    replica_env: Env,
    /// Where the orders service keeps them (deleted with the shop).
    _data: tempfile::TempDir,
    /// The PostgreSQL server of the shop, when the suite runs on one.
    _postgres: Option<PostgresServer>,
    /// Checkout's own metrics.
    pub(crate) telemetry: Telemetry,
}

impl Shop {
    /// Every backend real.
    pub(crate) async fn start() -> Self {
        Self::start_with(Vec::new()).await
    }

    /// Real backends, except that checkout talks to the given fakes (by
    /// service name: "payment", "shipping", ...). The real ones still run,
    /// so fakes may forward to them.
    pub(crate) async fn start_with(fakes: Vec<(&'static str, TestServer)>) -> Self {
        Self::start_configured(fakes, |_| {}).await
    }

    /// The same, with checkout's config adjusted by `configure` first.
    pub(crate) async fn start_configured(
        fakes: Vec<(&'static str, TestServer)>,
        configure: impl FnOnce(&mut Config),
    ) -> Self {
        Self::start_on(None, fakes, configure).await
    }

    /// The same, with the orders service on `database` (an SQLite file of
    /// the shop's own when `None`).
    pub(crate) async fn start_on(
        database: Option<StoreConfig>,
        fakes: Vec<(&'static str, TestServer)>,
        configure: impl FnOnce(&mut Config),
    ) -> Self {
        let mut backends = HashMap::new();
        backends.insert("catalog", spawn_real!(boutique_catalog));
        backends.insert("currency", spawn_real!(boutique_currency));
        backends.insert("payment", spawn_real!(boutique_payment));
        backends.insert("shipping", spawn_real!(boutique_shipping));
        backends.insert("email", spawn_real!(boutique_email));
        backends.insert("cart", spawn_real!(boutique_cart));
        let data = tempfile::tempdir().unwrap();
        let mut postgres = None;
        let database = match database {
            Some(database) => database,
            None if on_postgres() => {
                let server = PostgresServer::start().expect("PostgreSQL is installed");
                let url = server.create_database();
                postgres = Some(server);
                StoreConfig::at(Location::Postgres(DatabaseUrl::new(url)))
            }
            None => StoreConfig::at(Location::SqliteFile(data.path().join("orders.db"))),
        };
        let mut orders = boutique_orders::Config::from_env(&loopback()).unwrap();
        orders.database = database.clone();
        backends.insert("orders", TestServer::start(orders).await);
        let book = OrderBook::new(&Database::connect(&database).await.unwrap());

        let mut env = loopback();
        for (name, var) in VARS {
            env = env.with(var, backends[name].addr().to_string());
        }
        for (name, fake) in &fakes {
            let (_, var) = VARS.iter().find(|(n, _)| n == name).unwrap();
            env = env.with(var, fake.addr().to_string());
        }
        let mut config = Config::from_env(&env).unwrap();
        configure(&mut config);
        let replica_env = env.clone();
        let checkout = TestServer::start(config).await;
        let telemetry = checkout.telemetry().clone();
        Self {
            client: CheckoutServiceClient::new(checkout.channel().await),
            cart: CartServiceClient::new(backends["cart"].channel().await),
            catalog: ProductCatalogServiceClient::new(backends["catalog"].channel().await),
            currency: CurrencyServiceClient::new(backends["currency"].channel().await),
            backends,
            fakes: fakes.into_iter().map(|(_, fake)| fake).collect(),
            held_ports: Vec::new(),
            checkout,
            book,
            database,
            replica_env,
            _data: data,
            _postgres: postgres,
            telemetry,
        }
    }

    /// Another replica of checkout, with an orders replica of its own on
    /// the same database, sharing every other service: its client, and the
    /// servers to stop.
    pub(crate) async fn replica(&self) -> (CheckoutServiceClient<Channel>, [TestServer; 2]) {
        let mut orders = boutique_orders::Config::from_env(&loopback()).unwrap();
        orders.database = self.database.clone();
        let orders = TestServer::start(orders).await;
        let env = self
            .replica_env
            .clone()
            .with("ORDERS_SERVICE_ADDR", orders.addr().to_string());
        let checkout = TestServer::start(Config::from_env(&env).unwrap()).await;
        let client = CheckoutServiceClient::new(checkout.channel().await);
        (client, [checkout, orders])
    }

    /// Checkout's counter `name` with one label (besides `service_name`).
    pub(crate) fn counter(&self, name: &str, label: (&str, &str)) -> f64 {
        let text = self.telemetry.metrics().registry().render();
        let labels = [("service_name", "checkout"), label];
        boutique_platform::testing::sample(&text, name, &labels)
            .unwrap_or_else(|| panic!("no {name}{labels:?} in {text}"))
    }

    /// Stops one real backend, as an outage.
    /// Stops a real backend for the rest of the test; its port stays
    /// refused (see [`TestServer::stop_holding_port`]).
    pub(crate) async fn stop_backend(&mut self, name: &str) {
        let server = self.backends.remove(name).unwrap();
        self.held_ports.push(server.stop_holding_port().await);
    }

    /// Stops everything, failing the test if anything did not stop cleanly.
    pub(crate) async fn stop(self) {
        self.checkout.stop().await;
        for (_, server) in self.backends {
            server.stop().await;
        }
        for fake in self.fakes {
            fake.stop().await;
        }
    }

    pub(crate) async fn add(&mut self, user_id: &str, product_id: &str, quantity: i32) {
        self.cart
            .add_item(AddItemRequest {
                user_id: user_id.into(),
                item: Some(CartItem {
                    product_id: product_id.into(),
                    quantity,
                }),
            })
            .await
            .unwrap();
    }

    pub(crate) async fn cart_of(&mut self, user_id: &str) -> Vec<CartItem> {
        let mut items = self
            .cart
            .get_cart(GetCartRequest {
                user_id: user_id.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .items;
        items.sort_by(|a, b| a.product_id.cmp(&b.product_id));
        items
    }

    /// A product's catalog price converted by the currency service: what a
    /// unit should cost in `currency`, computed without checkout.
    pub(crate) async fn unit_price(&mut self, product_id: &str, currency: &str) -> Money {
        let product = self
            .catalog
            .get_product(GetProductRequest {
                id: product_id.into(),
            })
            .await
            .unwrap()
            .into_inner();
        self.convert(product.price_usd.unwrap(), currency).await
    }

    /// Converts with the currency service (USD stays as it is).
    pub(crate) async fn convert(&mut self, amount: boutique_proto::Money, to: &str) -> Money {
        if amount.currency_code == to {
            return Money::try_from(amount).unwrap();
        }
        let converted = self
            .currency
            .convert(CurrencyConversionRequest {
                from: Some(amount),
                to_code: to.into(),
            })
            .await
            .unwrap()
            .into_inner();
        Money::try_from(converted).unwrap()
    }

    /// Every order on record, oldest first.
    pub(crate) async fn records(&self) -> Vec<Order> {
        self.book.all().await.unwrap()
    }

    pub(crate) async fn record(&self, order_id: &str) -> Order {
        self.book
            .get(order_id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("order {order_id} is not recorded"))
    }
}

impl Shop {
    /// Waits (up to 20 s) until the only order on record satisfies `done`.
    pub(crate) async fn wait_for(&self, done: impl Fn(&Order) -> bool) -> Order {
        let patience = std::time::Duration::from_secs(20);
        boutique_testkit::eventually("the order's expected state", patience, || async {
            match self.records().await.as_slice() {
                [order] if done(order) => Some(order.clone()),
                _ => None,
            }
        })
        .await
    }
}

/// A Visa number that passes Luhn.
pub(crate) const VISA: &str = "4432801561520454";

pub(crate) fn address() -> Address {
    Address {
        street_address: "1600 Amphitheatre Parkway".into(),
        city: "Mountain View".into(),
        state: "CA".into(),
        country: "United States".into(),
        zip_code: 94043,
    }
}

/// A complete, acceptable order request.
pub(crate) fn order_request(user_id: &str, currency: &str) -> PlaceOrderRequest {
    PlaceOrderRequest {
        user_id: user_id.into(),
        user_currency: currency.into(),
        address: Some(address()),
        email: "someone@example.com".into(),
        credit_card: Some(CreditCardInfo {
            credit_card_number: VISA.into(),
            credit_card_cvv: 672,
            credit_card_expiration_year: 2039,
            credit_card_expiration_month: 1,
        }),
    }
}
