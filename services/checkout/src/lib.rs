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
//! - **A lost answer is not a second charge**: every Charge carries the order
//!   id as `idempotency-key` metadata; when the answer leaves the outcome open
//!   (a deadline, a dropped connection, `UNKNOWN`, `INTERNAL`), the same charge
//!   is resent with the same key (`CHARGE_ATTEMPTS` in all), which our payment
//!   service answers with the first transaction id. An upstream payment
//!   service ignores the key: set `CHARGE_ATTEMPTS=1` with it, and an open
//!   outcome is recorded as payment-uncertain for follow-up instead.
//! - **One order per cart at a time**: a different request for a cart whose
//!   order is being placed is refused at once (`FAILED_PRECONDITION`, reason
//!   `ORDER_IN_PROGRESS`), so two tabs or a changed form cannot charge one
//!   cart twice; see the `claims` module (per process).
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
//! | `CHARGE_ATTEMPTS` | `3` | How many times one charge is sent at most when the answer leaves its outcome open; `1` with a payment service that ignores `idempotency-key`. |
//!
//! Connections are made lazily, so checkout may start before its dependencies.

mod claims;
mod downstream;
mod handlers;
mod idempotency;
mod metrics;
mod place;
pub mod store;
mod validate;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use boutique_platform::{
    App, ConfigError, Env, GrpcServer, Peers, ServerError, ServiceConfig, Telemetry,
};
use boutique_proto::{
    cart_service_client::CartServiceClient,
    checkout_service_server::CheckoutServiceServer,
    currency_service_client::CurrencyServiceClient,
    directory::{self, CART, CATALOG, CURRENCY, EMAIL, PAYMENT, SHIPPING},
    email_service_client::EmailServiceClient,
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

/// How long one downstream call may take when the caller set no deadline.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// How many times one charge is sent at most by default.
pub const DEFAULT_CHARGE_ATTEMPTS: u32 = 3;

/// The variable setting how many times one charge is sent at most.
pub const CHARGE_ATTEMPTS_VAR: &str = "CHARGE_ATTEMPTS";

/// Checkout settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen (`LISTEN_ADDR`, `PORT`).
    pub listen: SocketAddr,
    /// The six services checkout calls (their `*_SERVICE_ADDR`s).
    pub peers: Peers,
    /// Where order records are kept: in memory unless a test hands in
    /// another store (and keeps a handle to inspect it).
    pub orders: Arc<dyn OrderStore>,
    /// How long one downstream call may take when the caller set no
    /// deadline ([`DEFAULT_CALL_TIMEOUT`]; not read from the environment).
    pub call_timeout: Duration,
    /// How many times one charge is sent at most (`CHARGE_ATTEMPTS`, 1 to
    /// 10): resends carry the order id as `idempotency-key`, which our payment
    /// service honours; with a payment service that ignores it, set 1.
    pub charge_attempts: u32,
    /// How long the currency service's list of codes is reused
    /// ([`CURRENCY_LIST_TTL`]; zero asks on every order; not read from the
    /// environment).
    pub currency_list_ttl: Duration,
    /// How long the outcome of a charged order is kept for retries
    /// ([`DEFAULT_IDEMPOTENCY_WINDOW`]; not read from the environment).
    pub idempotency_window: Duration,
}

impl ServiceConfig for Config {
    const SERVICE: &'static directory::ServiceInfo = &directory::CHECKOUT;

    /// Reads `PORT`, `LISTEN_ADDR` and the six required `*_SERVICE_ADDR`s;
    /// the first one missing or malformed is named in the error.
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            listen: env.listen_addr(Self::SERVICE.port)?,
            peers: Peers::from_env(env, Self::SERVICE)?,
            orders: Arc::new(MemoryOrderStore::new()),
            call_timeout: DEFAULT_CALL_TIMEOUT,
            charge_attempts: env
                .parse_with(CHARGE_ATTEMPTS_VAR, parse_charge_attempts)?
                .unwrap_or(DEFAULT_CHARGE_ATTEMPTS),
            currency_list_ttl: CURRENCY_LIST_TTL,
            idempotency_window: DEFAULT_IDEMPOTENCY_WINDOW,
        })
    }

    async fn build(self, telemetry: Telemetry) -> Result<App, ServerError> {
        let peers = &self.peers;
        let clients = downstream::Clients {
            cart: CartServiceClient::new(peers.channel(&CART, &telemetry)?),
            catalog: ProductCatalogServiceClient::new(peers.channel(&CATALOG, &telemetry)?),
            currency: CurrencyServiceClient::new(peers.channel(&CURRENCY, &telemetry)?),
            shipping: ShippingServiceClient::new(peers.channel(&SHIPPING, &telemetry)?),
            payment: PaymentServiceClient::new(peers.channel(&PAYMENT, &telemetry)?),
            email: EmailServiceClient::new(peers.channel(&EMAIL, &telemetry)?),
        };
        let handler = handlers::CheckoutHandler {
            checkout: Arc::new(place::Checkout {
                clients,
                orders: self.orders,
                node_id: rand::random(),
                metrics: metrics::CheckoutMetrics::register(&telemetry),
                charge_attempts: self.charge_attempts,
            }),
            currencies: Arc::new(downstream::SupportedCurrencies::new(self.currency_list_ttl)),
            registry: Arc::new(idempotency::Registry::new(self.idempotency_window)),
            fingerprinter: Arc::new(idempotency::Fingerprinter::new()),
            claims: Arc::new(claims::CartClaims::default()),
            call_timeout: self.call_timeout,
        };
        let server = GrpcServer::bind(&telemetry, self.listen)
            .await?
            .add_service(CheckoutServiceServer::new(handler));
        Ok(server.into())
    }
}

/// Parses `CHARGE_ATTEMPTS`: 1 (never resend) to 10.
fn parse_charge_attempts(value: &str) -> Result<u32, String> {
    match value.parse::<u32>() {
        Ok(n @ 1..=10) => Ok(n),
        _ => Err("expected a whole number from 1 to 10".to_owned()),
    }
}
