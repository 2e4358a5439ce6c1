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
//! - **A charged order is never lost**: every order is on record at the
//!   orders service (`boutique.orders.v1`) before the charge, with its total,
//!   and moves through its states as each step completes. A failure after the
//!   charge leaves it charged on record, the cart is emptied (a charged cart
//!   cannot be charged again) and the shopper is told: charged, confirmation
//!   follows. The steps after the charge run on their own time budget
//!   (`POST_CHARGE_TIMEOUT`), in a task the caller cannot cancel; whatever
//!   they leave undone, even across a crash, the reconciler finishes (see
//!   `reconcile`).
//! - **A lost answer is not a second charge**: every Charge carries the order
//!   id as `idempotency-key` metadata; when the answer leaves the outcome open
//!   (a deadline, a dropped connection, `UNKNOWN`, `INTERNAL`), the same charge
//!   is resent with the same key (`CHARGE_ATTEMPTS` in all), which our payment
//!   service answers with the first transaction id. Still unclear, the order
//!   is payment-uncertain and the reconciler settles it with payment's ledger
//!   (`boutique.payment.v1.PaymentLedger/SettleCharge`), which also voids the
//!   key so a late charge is refused. An upstream payment service ignores the
//!   key and cannot settle: set `CHARGE_ATTEMPTS=1` with it; an unclear
//!   charge then goes to a person (`needs_attention`) after
//!   `RECONCILE_MAX_ATTEMPTS` rounds.
//! - **One order per cart at a time, across replicas**: the orders service
//!   claims the cart in its database before the cart is read; another order
//!   for it is refused at once (`FAILED_PRECONDITION`, reason
//!   `ORDER_IN_PROGRESS`) until the cart is emptied or the order ends with
//!   nothing charged.
//! - **Retries do not charge twice**: a client `idempotency-key` names one
//!   order for its life, on every replica (kept by the orders service): a
//!   repeat gets that order's outcome, a reuse for another request is
//!   refused (`IDEMPOTENCY_KEY_REUSED`). Without a key, a retry after
//!   success finds the cart empty and gets the order that emptied it.
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
//! | `ORDERS_SERVICE_ADDR` | required | The orders service. |
//! | `CHARGE_ATTEMPTS` | `3` | How many times one charge is sent at most when the answer leaves its outcome open; `1` with a payment service that ignores `idempotency-key`. |
//! | `POST_CHARGE_TIMEOUT` | `30s` | The time budget of the steps after the charge; the reconciler takes orders unchanged for this long. |
//! | `RECONCILE_INTERVAL` | `30s` | How often the reconciler looks for unfinished orders (and once at start). |
//! | `RECONCILE_MAX_ATTEMPTS` | `5` | Rounds after which an order that cannot be finished goes to a person (`needs_attention`). |
//! | `FLAGD_*` | no flags | Failure flags (`boutique_flags::config`): `paymentUnreachable` sends each charge to a payment service that cannot be reached (`UNAVAILABLE`, nothing charged, the order failed, the cart kept). |
//!
//! Connections are made lazily, so checkout may start before its dependencies.

mod downstream;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod handlers;
mod metrics;
mod place;
mod reconcile;
mod validate;

use std::{sync::Arc, time::Duration};

use boutique_flags::{Flags, FlagsConfig};
use boutique_platform::{
    App, ConfigError, Env, GrpcServer, Listen, Peers, ServerError, ServiceConfig, Telemetry,
    config::parse_go_duration,
};
use boutique_proto::{
    boutique::{
        orders::v1::order_service_client::OrderServiceClient,
        payment::v1::payment_ledger_client::PaymentLedgerClient,
    },
    cart_service_client::CartServiceClient,
    checkout_service_server::CheckoutServiceServer,
    currency_service_client::CurrencyServiceClient,
    directory::{self, CART, CATALOG, CURRENCY, EMAIL, ORDERS, PAYMENT, SHIPPING},
    email_service_client::EmailServiceClient,
    payment_service_client::PaymentServiceClient,
    product_catalog_service_client::ProductCatalogServiceClient,
    shipping_service_client::ShippingServiceClient,
};

pub use downstream::CURRENCY_LIST_TTL;
pub use handlers::IDEMPOTENCY_KEY;
use tokio_util::sync::CancellationToken;

/// How long one downstream call may take when the caller set no deadline.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// How many times one charge is sent at most by default.
pub const DEFAULT_CHARGE_ATTEMPTS: u32 = 3;

/// The variable setting how many times one charge is sent at most.
pub const CHARGE_ATTEMPTS_VAR: &str = "CHARGE_ATTEMPTS";

/// The time budget of the steps after the charge, by default.
pub const DEFAULT_POST_CHARGE_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the reconciler looks, by default.
pub const DEFAULT_RECONCILE_INTERVAL: Duration = Duration::from_secs(30);
/// Rounds before an unfinishable order goes to a person, by default.
pub const DEFAULT_RECONCILE_MAX_ATTEMPTS: u32 = 5;

/// Checkout settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen (`LISTEN_ADDR`, `PORT`, `REUSE_PORT`).
    pub listen: Listen,
    /// The services checkout calls (their `*_SERVICE_ADDR`s).
    pub peers: Peers,
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
    /// The time budget of the steps after the charge (`POST_CHARGE_TIMEOUT`).
    pub post_charge_timeout: Duration,
    /// How often the reconciler looks (`RECONCILE_INTERVAL`).
    pub reconcile_interval: Duration,
    /// Rounds before an unfinishable order goes to a person
    /// (`RECONCILE_MAX_ATTEMPTS`, 1 to 100).
    pub reconcile_max_attempts: u32,
    /// Where the failure flags come from (`FLAGD_*`).
    pub flags: FlagsConfig,
}

impl ServiceConfig for Config {
    const SERVICE: &'static directory::ServiceInfo = &directory::CHECKOUT;

    /// Reads `PORT`, `LISTEN_ADDR`, the required `*_SERVICE_ADDR`s and the
    /// tuning variables; the first one missing or malformed is named.
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            listen: env.listen(Self::SERVICE.port)?,
            peers: Peers::from_env(env, Self::SERVICE)?,
            call_timeout: DEFAULT_CALL_TIMEOUT,
            charge_attempts: env
                .parse_with(CHARGE_ATTEMPTS_VAR, parse_charge_attempts)?
                .unwrap_or(DEFAULT_CHARGE_ATTEMPTS),
            currency_list_ttl: CURRENCY_LIST_TTL,
            post_charge_timeout: env
                .parse_with("POST_CHARGE_TIMEOUT", parse_positive_duration)?
                .unwrap_or(DEFAULT_POST_CHARGE_TIMEOUT),
            reconcile_interval: env
                .parse_with("RECONCILE_INTERVAL", parse_positive_duration)?
                .unwrap_or(DEFAULT_RECONCILE_INTERVAL),
            reconcile_max_attempts: env
                .parse_with("RECONCILE_MAX_ATTEMPTS", parse_max_attempts)?
                .unwrap_or(DEFAULT_RECONCILE_MAX_ATTEMPTS),
            flags: FlagsConfig::from_env(env)?,
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
            unreachable_payment: PaymentServiceClient::new(
                peers
                    .addr(&PAYMENT)
                    .ok_or(ServerError::UndeclaredPeer {
                        service: Self::SERVICE.name,
                        peer: PAYMENT.name,
                    })?
                    .unreachable_channel(&telemetry),
            ),
            email: EmailServiceClient::new(peers.channel(&EMAIL, &telemetry)?),
            orders: OrderServiceClient::new(peers.channel(&ORDERS, &telemetry)?),
            ledger: PaymentLedgerClient::new(peers.channel(&PAYMENT, &telemetry)?),
        };
        let checkout = Arc::new(place::Checkout {
            clients,
            metrics: metrics::CheckoutMetrics::register(&telemetry),
            charge_attempts: self.charge_attempts,
            post_charge_timeout: self.post_charge_timeout,
            flags: Flags::new(&self.flags, &telemetry),
        });
        let reconciler = reconcile::Reconciler::new(
            checkout.clone(),
            self.reconcile_interval,
            self.reconcile_max_attempts,
            &telemetry,
        );
        let handler = handlers::CheckoutHandler {
            checkout,
            currencies: Arc::new(downstream::SupportedCurrencies::new(self.currency_list_ttl)),
            call_timeout: self.call_timeout,
        };
        let server = GrpcServer::bind(&telemetry, self.listen)
            .await?
            .add_service(CheckoutServiceServer::new(handler));
        let addr = server.local_addr();
        let stop = CancellationToken::new();
        let reconciling = tokio::spawn(reconciler.run(stop.clone()));
        Ok(App::new(addr, move |shutdown| async move {
            let served = server.run_until(shutdown).await;
            // Mid-round work stops here; what it left is on record for the
            // next round, of this replica or another.
            stop.cancel();
            let _ = reconciling.await;
            served
        }))
    }
}

/// Parses a positive Go duration (`30s`, `500ms`).
fn parse_positive_duration(value: &str) -> Result<Duration, String> {
    match parse_go_duration(value)? {
        d if d.is_zero() => Err("expected a positive duration".to_owned()),
        d => Ok(d),
    }
}

/// Parses `RECONCILE_MAX_ATTEMPTS`: 1 to 100.
fn parse_max_attempts(value: &str) -> Result<u32, String> {
    match value.parse::<u32>() {
        Ok(n @ 1..=100) => Ok(n),
        _ => Err("expected a whole number from 1 to 100".to_owned()),
    }
}

/// Parses `CHARGE_ATTEMPTS`: 1 (never resend) to 10.
fn parse_charge_attempts(value: &str) -> Result<u32, String> {
    match value.parse::<u32>() {
        Ok(n @ 1..=10) => Ok(n),
        _ => Err("expected a whole number from 1 to 10".to_owned()),
    }
}
