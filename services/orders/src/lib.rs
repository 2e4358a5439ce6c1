//! The orders service (`boutique.orders.v1.OrderService`): the record of
//! every order, its state machine and history.
//!
//! Ours, not upstream's. Checkout opens, prices and moves orders through it;
//! the storefront and the REST API read them; the dispatch service moves
//! shipped orders on. The service owns the `order*` tables of the database
//! (see `boutique_store::orders`, where the guarantees live):
//!
//! - **One order per cart at a time**, across every replica: `BeginOrder`
//!   claims the cart in the database; a second order for it is refused with
//!   `FAILED_PRECONDITION` and the reason `ORDER_IN_PROGRESS` until the cart
//!   is emptied or the order ends with nothing charged.
//! - **Idempotency keys for the life of the order**: the same key (per owner)
//!   answers with the order it opened; reused for another request, it is
//!   refused (`IDEMPOTENCY_KEY_REUSED`).
//! - **Moves follow the state machine** (created → charged → shipped →
//!   dispatched → delivered; declined, failed, payment uncertain, needs
//!   attention), each stored with its time, each announced by an event
//!   written to the outbox in the same transaction, which the relay
//!   publishes (see `relay`): to RabbitMQ with `AMQP_URL`, else to the
//!   process's in-memory hub (`boutique all`, where dispatch shares it).
//!
//! # Environment
//!
//! | Variable | Default | Meaning |
//! |---|---|---|
//! | `PORT` | `5060` | Port to listen on. |
//! | `LISTEN_ADDR` | `0.0.0.0` | Host to listen on. |
//! | `DATABASE_URL` | unset: an SQLite file in `DATA_DIR` | `postgres://…` for PostgreSQL (shared by replicas), `sqlite::memory:` for a throwaway database; see `boutique_store` for `DATA_DIR` and the pool settings. |
//! | `AMQP_URL` | unset: the in-process hub | RabbitMQ, `amqp://USER:PASSWORD@HOST:PORT/VHOST`; see `boutique_events` for the other `EVENTS_*` settings. |
//! | `STUCK_AFTER` | `60s` | How long an order may sit in an intermediate state before `boutique_orders_stuck` counts it (set it to the reconcile interval or more). |
//! | `FLAGD_*` | no flags | Failure flags (`boutique_flags::config`): `boutique.queue.publishFailure` fails that fraction of the relay's publishes; the events stay in the outbox and go out later. |

mod convert;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod handlers;
mod metrics;
mod relay;

use std::{sync::Arc, time::Duration};

use boutique_events::{Bus, EventsConfig};
use boutique_flags::{Flags, FlagsConfig};
use boutique_platform::{
    App, ConfigError, Env, GrpcServer, Listen, ServerError, ServiceConfig, Telemetry,
    config::parse_go_duration,
};
use boutique_proto::{boutique::orders::v1::order_service_server::OrderServiceServer, directory};
use boutique_store::{Database, OrderBook, StoreConfig};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The variable setting when an unfinished order counts as stuck.
pub const STUCK_AFTER_VAR: &str = "STUCK_AFTER";

/// When an unfinished order counts as stuck by default: twice the default
/// reconcile interval, so one missed round does not alert.
pub const DEFAULT_STUCK_AFTER: Duration = Duration::from_secs(60);

/// How often the backlog and stuck gauges are refreshed.
const GAUGE_INTERVAL: Duration = Duration::from_secs(5);

/// Orders settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen (`LISTEN_ADDR`, `PORT`, `REUSE_PORT`).
    pub listen: Listen,
    /// The database (`DATABASE_URL`, `DATA_DIR`, pool settings).
    pub database: StoreConfig,
    /// When an unfinished order counts as stuck (`STUCK_AFTER`).
    pub stuck_after: Duration,
    /// Where order events go (`AMQP_URL`, `EVENTS_*`).
    pub events: EventsConfig,
    /// Where the failure flags come from (`FLAGD_*`).
    pub flags: FlagsConfig,
}

impl ServiceConfig for Config {
    const SERVICE: &'static directory::ServiceInfo = &directory::ORDERS;

    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            listen: env.listen(Self::SERVICE.port)?,
            database: StoreConfig::from_env(env)?,
            stuck_after: env
                .parse_with(STUCK_AFTER_VAR, parse_go_duration)?
                .unwrap_or(DEFAULT_STUCK_AFTER),
            events: EventsConfig::from_env(env)?,
            flags: FlagsConfig::from_env(env)?,
        })
    }

    async fn build(self, telemetry: Telemetry) -> Result<App, ServerError> {
        let book = open(&self.database).await?;
        let wake = Arc::new(Notify::new());
        let handler = handlers::Orders {
            book: book.clone(),
            metrics: metrics::OrdersMetrics::register(&telemetry),
            relay: wake.clone(),
        };
        let stop = CancellationToken::new();
        let bus = Bus::new(self.events);
        tracing::info!(events = %bus, "Order events are published.");
        let relay = relay::Relay {
            book: book.clone(),
            bus,
            flags: Flags::new(&self.flags, &telemetry),
        };
        let relaying = tokio::spawn(relay.run(wake, stop.clone()));
        let watching = tokio::spawn(metrics::watch(
            book,
            handler.metrics.clone(),
            GAUGE_INTERVAL,
            self.stuck_after,
            stop.clone(),
        ));
        let server = GrpcServer::bind(&telemetry, self.listen)
            .await?
            .add_service(OrderServiceServer::new(handler));
        let addr = server.local_addr();
        Ok(App::new(addr, move |shutdown| async move {
            let served = server.run_until(shutdown).await;
            stop.cancel();
            let _ = tokio::join!(watching, relaying);
            served
        }))
    }
}

/// Connects to the database and applies the migrations.
async fn open(config: &StoreConfig) -> Result<OrderBook, ServerError> {
    let setup = |source: boutique_store::StoreError| ServerError::Setup {
        what: "the order database",
        source: source.into(),
    };
    let database = Database::connect(config).await.map_err(setup)?;
    database.migrate().await.map_err(setup)?;
    tracing::info!(database = %config.location, "Orders are kept in the database.");
    Ok(OrderBook::new(&database))
}
