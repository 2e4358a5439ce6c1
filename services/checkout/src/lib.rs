//! The checkout service (`hipstershop.CheckoutService`): turns a cart into a
//! paid, shipped order.
//!
//! PlaceOrder keeps upstream's call order (cart, catalog and currency,
//! shipping quote, charge, shipment, empty cart, confirmation email) and its
//! `OrderResult`, and fixes what upstream got wrong:
//!
//! - **Input is checked first**: a blank `user_id` or `email`, a missing
//!   address (or street, city, country) or card, and a currency the currency
//!   service does not support are `INVALID_ARGUMENT`; an empty cart is
//!   `FAILED_PRECONDITION` (upstream charged $0 for it).
//! - **Money is exact**: totals use `boutique_money`'s checked arithmetic.
//! - **Declines say why**: the payment service's status (`INVALID_ARGUMENT` or
//!   `FAILED_PRECONDITION`) and message reach the shopper unchanged; a payment
//!   outage is `UNAVAILABLE`.
//! - **A charged order is never lost**: every order is recorded before the
//!   charge and moved through its [`OrderState`]s. A failure after the charge
//!   is recorded (with the transaction id), logged at error level, and told
//!   to the shopper: their card was charged, the order id, and that the order
//!   is recorded for follow-up. The cart is then kept.
//! - **Retries do not charge twice**: see the `idempotency` module
//!   for the fingerprint, the `idempotency-key` metadata and the single-flight.
//! - **Deadlines and trace context pass through**: each downstream call gets
//!   what is left of the caller's deadline (or [`DEFAULT_CALL_TIMEOUT`] when
//!   there is none) and the caller's `traceparent`, `tracestate` and `baggage`.
//! - Card numbers never reach a log, an error or a record (last four at most).
//!
//! # Environment
//!
//! | Variable | Default | Meaning |
//! |---|---|---|
//! | `PORT` | `5050` | Port to listen on. |
//! | `LISTEN_ADDR` | `0.0.0.0` | Host to listen on. |
//! | `CART_SERVICE_ADDR` | required | The cart service, `host:port`. |
//! | `PRODUCT_CATALOG_SERVICE_ADDR` | required | The product catalog. |
//! | `CURRENCY_SERVICE_ADDR` | required | The currency service. |
//! | `SHIPPING_SERVICE_ADDR` | required | The shipping service. |
//! | `PAYMENT_SERVICE_ADDR` | required | The payment service. |
//! | `EMAIL_SERVICE_ADDR` | required | The email service. |
//!
//! Connections are made lazily, so checkout may start before its dependencies.

mod downstream;
mod handlers;
mod idempotency;
mod metrics;
mod place;
pub mod store;
mod validate;

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use boutique_platform::{ConfigError, Env, GrpcServer, Telemetry, grpc::ServerError};
use boutique_proto::{
    cart_service_client::CartServiceClient, checkout_service_server::CheckoutServiceServer,
    currency_service_client::CurrencyServiceClient, email_service_client::EmailServiceClient,
    payment_service_client::PaymentServiceClient,
    product_catalog_service_client::ProductCatalogServiceClient,
    shipping_service_client::ShippingServiceClient,
};

pub use downstream::CURRENCY_LIST_TTL;
pub use handlers::IDEMPOTENCY_KEY;
pub use idempotency::DEFAULT_WINDOW as DEFAULT_IDEMPOTENCY_WINDOW;
pub use store::{
    MemoryOrderStore, OrderLine, OrderRecord, OrderState, OrderStore, StateChange, StoreError,
};

/// The upstream default port.
pub const DEFAULT_PORT: u16 = 5050;

/// How long one downstream call may take when the caller set no deadline.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The variable holding the cart service's address.
pub const CART_ADDR_VAR: &str = "CART_SERVICE_ADDR";
/// The variable holding the product catalog's address.
pub const CATALOG_ADDR_VAR: &str = "PRODUCT_CATALOG_SERVICE_ADDR";
/// The variable holding the currency service's address.
pub const CURRENCY_ADDR_VAR: &str = "CURRENCY_SERVICE_ADDR";
/// The variable holding the shipping service's address.
pub const SHIPPING_ADDR_VAR: &str = "SHIPPING_SERVICE_ADDR";
/// The variable holding the payment service's address.
pub const PAYMENT_ADDR_VAR: &str = "PAYMENT_SERVICE_ADDR";
/// The variable holding the email service's address.
pub const EMAIL_ADDR_VAR: &str = "EMAIL_SERVICE_ADDR";

/// Checkout settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen (`LISTEN_ADDR`, `PORT`).
    pub listen: SocketAddr,
    /// This service's logs, metrics and traces: [`Telemetry::detached`] until
    /// the binary hands over the process's.
    pub telemetry: Telemetry,
    /// `CART_SERVICE_ADDR`.
    pub cart_addr: String,
    /// `PRODUCT_CATALOG_SERVICE_ADDR`.
    pub catalog_addr: String,
    /// `CURRENCY_SERVICE_ADDR`.
    pub currency_addr: String,
    /// `SHIPPING_SERVICE_ADDR`.
    pub shipping_addr: String,
    /// `PAYMENT_SERVICE_ADDR`.
    pub payment_addr: String,
    /// `EMAIL_SERVICE_ADDR`.
    pub email_addr: String,
    /// How long one downstream call may take when the caller set no
    /// deadline ([`DEFAULT_CALL_TIMEOUT`]; not read from the environment).
    pub call_timeout: Duration,
    /// How long the outcome of a charged order is kept for retries
    /// ([`DEFAULT_IDEMPOTENCY_WINDOW`]; not read from the environment).
    pub idempotency_window: Duration,
    /// How long the currency service's list of codes is reused
    /// ([`CURRENCY_LIST_TTL`]; zero asks on every order; not read from the
    /// environment).
    pub currency_list_ttl: Duration,
}

impl Config {
    /// Reads `PORT`, `LISTEN_ADDR` and the six required `*_SERVICE_ADDR`s;
    /// the first one missing or malformed is named in the error.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            telemetry: Telemetry::detached("checkout"),
            listen: env.listen_addr(DEFAULT_PORT)?,
            cart_addr: env.require_service_addr(CART_ADDR_VAR)?,
            catalog_addr: env.require_service_addr(CATALOG_ADDR_VAR)?,
            currency_addr: env.require_service_addr(CURRENCY_ADDR_VAR)?,
            shipping_addr: env.require_service_addr(SHIPPING_ADDR_VAR)?,
            payment_addr: env.require_service_addr(PAYMENT_ADDR_VAR)?,
            email_addr: env.require_service_addr(EMAIL_ADDR_VAR)?,
            call_timeout: DEFAULT_CALL_TIMEOUT,
            idempotency_window: DEFAULT_IDEMPOTENCY_WINDOW,
            currency_list_ttl: CURRENCY_LIST_TTL,
        })
    }
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A dependency's address cannot be made into a channel.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The listener could not be bound.
    #[error(transparent)]
    Server(#[from] ServerError),
}

/// The running checkout service.
#[derive(Debug)]
pub struct App {
    server: GrpcServer,
    orders: Arc<dyn OrderStore>,
}

impl App {
    /// Binds the listener with an in-memory order store; the service answers
    /// once [`App::run_until`] runs.
    pub async fn build(config: Config) -> Result<Self, BuildError> {
        Self::with_store(config, Arc::new(MemoryOrderStore::new())).await
    }

    /// Like [`App::build`], keeping order records in `orders`.
    pub async fn with_store(
        config: Config,
        orders: Arc<dyn OrderStore>,
    ) -> Result<Self, BuildError> {
        use boutique_platform::grpc::lazy_channel;
        let clients = downstream::Clients {
            cart: CartServiceClient::new(lazy_channel(
                CART_ADDR_VAR,
                &config.cart_addr,
                &config.telemetry,
            )?),
            catalog: ProductCatalogServiceClient::new(lazy_channel(
                CATALOG_ADDR_VAR,
                &config.catalog_addr,
                &config.telemetry,
            )?),
            currency: CurrencyServiceClient::new(lazy_channel(
                CURRENCY_ADDR_VAR,
                &config.currency_addr,
                &config.telemetry,
            )?),
            shipping: ShippingServiceClient::new(lazy_channel(
                SHIPPING_ADDR_VAR,
                &config.shipping_addr,
                &config.telemetry,
            )?),
            payment: PaymentServiceClient::new(lazy_channel(
                PAYMENT_ADDR_VAR,
                &config.payment_addr,
                &config.telemetry,
            )?),
            email: EmailServiceClient::new(lazy_channel(
                EMAIL_ADDR_VAR,
                &config.email_addr,
                &config.telemetry,
            )?),
        };
        let handler = handlers::CheckoutHandler {
            checkout: Arc::new(place::Checkout {
                clients,
                orders: orders.clone(),
                node_id: rand::random(),
                metrics: metrics::CheckoutMetrics::register(&config.telemetry),
            }),
            currencies: Arc::new(downstream::SupportedCurrencies::new(
                config.currency_list_ttl,
            )),
            registry: Arc::new(idempotency::Registry::new(config.idempotency_window)),
            fingerprinter: Arc::new(idempotency::Fingerprinter::new()),
            call_timeout: config.call_timeout,
        };
        let server = GrpcServer::bind(&config.telemetry, config.listen)
            .await?
            .add_service(CheckoutServiceServer::new(handler));
        Ok(Self { server, orders })
    }

    /// The order records, for inspection (tests, and later the frontend).
    pub fn orders(&self) -> Arc<dyn OrderStore> {
        self.orders.clone()
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
