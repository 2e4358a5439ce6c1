//! The dispatch service: a simulated warehouse that moves shipped orders on.
//!
//! Ours, not upstream's. It consumes order events (see `boutique_events`:
//! RabbitMQ with `AMQP_URL`, else the in-process hub it shares with the
//! orders service in `boutique all`) and moves orders along:
//!
//! - `OrderShipped` → after `DISPATCH_DELAY`, the order is `dispatched`;
//! - `OrderDispatched` → after `DELIVERY_DELAY`, it is `delivered`;
//! - every other event is acknowledged and left alone.
//!
//! Each move names the event that caused it, and the orders service makes a
//! move once per cause, so a redelivered or republished event changes
//! nothing (counted as `duplicate`). An orders service that cannot be reached
//! is retried with backoff (the event goes back to the queue); an event that
//! cannot be handled (not an order event, an unknown order) is poison and
//! goes to the dead-letter queue. It serves gRPC health and metrics only.
//!
//! # Environment
//!
//! | Variable | Default | Meaning |
//! |---|---|---|
//! | `PORT` | `5070` | Port of its health service. |
//! | `LISTEN_ADDR` | `0.0.0.0` | Host to listen on. |
//! | `ORDERS_SERVICE_ADDR` | required | The orders service. |
//! | `AMQP_URL` | unset: the in-process hub | RabbitMQ; see `boutique_events` for the `EVENTS_*` settings. |
//! | `EVENTS_PREFETCH` | `2048` | How many events it holds at once (each waits out its delay). |
//! | `DISPATCH_DELAY` | `1s` | How long the warehouse takes to dispatch a shipped order. |
//! | `DELIVERY_DELAY` | `2s` | How long delivery takes after dispatch. |
//! | `FLAGD_*` | no flags | Failure flags (`boutique_flags::config`): `boutique.queue.consumerStall` makes the consumer stall that many milliseconds before each event, one event at a time. |

mod metrics;
mod warehouse;

use std::time::Duration;

use boutique_events::{Bus, EventsConfig};
use boutique_flags::{Flags, FlagsConfig};
use boutique_platform::{
    App, ConfigError, Env, GrpcServer, Listen, Peers, ServerError, ServiceConfig, Telemetry,
    config::parse_go_duration,
};
use boutique_proto::{
    boutique::orders::v1::order_service_client::OrderServiceClient,
    directory::{self, ORDERS},
};
use tokio_util::sync::CancellationToken;

/// How many events dispatch holds at once unless `EVENTS_PREFETCH` says:
/// a second's worth of orders at the shop's benchmarked rate, and then some.
pub const DEFAULT_PREFETCH: u16 = 2048;

const PREFETCH_VAR: &str = "EVENTS_PREFETCH";

/// How long dispatch takes by default.
pub const DEFAULT_DISPATCH_DELAY: Duration = Duration::from_secs(1);
/// How long delivery takes by default.
pub const DEFAULT_DELIVERY_DELAY: Duration = Duration::from_secs(2);

/// Dispatch settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where its health service listens (`LISTEN_ADDR`, `PORT`, `REUSE_PORT`).
    pub listen: Listen,
    /// The orders service (`ORDERS_SERVICE_ADDR`).
    pub peers: Peers,
    /// Where order events come from (`AMQP_URL`, `EVENTS_*`).
    pub events: EventsConfig,
    /// Shipped to dispatched (`DISPATCH_DELAY`).
    pub dispatch_delay: Duration,
    /// Dispatched to delivered (`DELIVERY_DELAY`).
    pub delivery_delay: Duration,
    /// Where the failure flags come from (`FLAGD_*`).
    pub flags: FlagsConfig,
}

impl ServiceConfig for Config {
    const SERVICE: &'static directory::ServiceInfo = &directory::DISPATCH;

    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            listen: env.listen(Self::SERVICE.port)?,
            peers: Peers::from_env(env, Self::SERVICE)?,
            events: {
                let mut events = EventsConfig::from_env(env)?;
                // Each event waits out its delay while held, so the queue
                // must hand out as many as arrive in one delay.
                if env.get(PREFETCH_VAR).is_none() {
                    events.prefetch = DEFAULT_PREFETCH;
                }
                events
            },
            dispatch_delay: env
                .parse_with("DISPATCH_DELAY", parse_go_duration)?
                .unwrap_or(DEFAULT_DISPATCH_DELAY),
            delivery_delay: env
                .parse_with("DELIVERY_DELAY", parse_go_duration)?
                .unwrap_or(DEFAULT_DELIVERY_DELAY),
            flags: FlagsConfig::from_env(env)?,
        })
    }

    async fn build(self, telemetry: Telemetry) -> Result<App, ServerError> {
        let bus = Bus::new(self.events);
        let metrics = metrics::DispatchMetrics::register(&telemetry);
        let warehouse = warehouse::Warehouse {
            orders: OrderServiceClient::new(self.peers.channel(&ORDERS, &telemetry)?),
            dispatch_delay: self.dispatch_delay,
            delivery_delay: self.delivery_delay,
            metrics: metrics.clone(),
            stall: warehouse::Stall::new(Flags::new(&self.flags, &telemetry)),
        };
        let server = GrpcServer::bind(&telemetry, self.listen).await?;
        let addr = server.local_addr();
        let stop = CancellationToken::new();
        tracing::info!(events = %bus, "Consuming order events.");
        let consuming = tokio::spawn(warehouse::run(warehouse, bus.clone(), stop.clone()));
        let watching = tokio::spawn(metrics::watch(bus, metrics, stop.clone()));
        Ok(App::new(addr, move |shutdown| async move {
            let served = server.run_until(shutdown).await;
            stop.cancel();
            let _ = tokio::join!(consuming, watching);
            served
        }))
    }
}
