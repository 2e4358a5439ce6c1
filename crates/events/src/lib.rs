//! Order events between services: the orders service's outbox relay
//! publishes them, the dispatch service consumes them.
//!
//! One API, [`Bus`], over two backends with the same semantics: RabbitMQ
//! (through lapin) when `AMQP_URL` is set, an in-process hub otherwise, so a
//! plain `cargo run` (`boutique all`) needs no broker.
//!
//! - **Publishing** ([`Bus::publish`]) succeeds only when every event of the
//!   batch is safe with the broker (RabbitMQ's publisher confirms). On an
//!   error the caller keeps the events and publishes them again later: the
//!   outbox table is the source of truth, the bus only moves events on.
//! - **Consuming** ([`Bus::consume`]) is at least once: an event is
//!   acknowledged only after its handler returns `Ok`, so it may arrive more
//!   than once (after a crash, a reconnect, a retry). Handlers de-duplicate on
//!   [`OrderEvent::id`]. A handler says [`Handling::Retry`] for a transient
//!   failure (redelivered after a backoff, dead-lettered past the delivery
//!   limit) or [`Handling::Poison`] for an event it can never handle
//!   (dead-lettered at once); a body that is not an event of our schema is
//!   poison too. Dead letters wait in their own queue for an operator
//!   ([`Bus::drain_dead_letters`]; [`Bus::depths`] for alerts).
//! - **Order**: one bus publishes its batches one at a time, in order, and
//!   they are delivered in that order; handlers run up to `prefetch` at a
//!   time, so they may finish out of order, and a retried event comes back
//!   after later ones. Consumers must not rely on order (an event carries the
//!   order's state, and the order service is the authority on it).
//!
//! # Event schema
//!
//! JSON, versioned by its `schema` field ([`SCHEMA`], `boutique.order-event.v1`):
//! see [`OrderEvent`] for the fields and [`EventKind`] for the kinds and their
//! routing keys. Events carry no personal data (no email, address or card).
//!
//! # Topology
//!
//! Topic exchange `boutique.orders` → quorum queue `boutique.dispatch` (bound
//! with `order.#`), dead-lettering to fanout exchange `boutique.orders.dead` →
//! queue `boutique.dispatch.dead`. See [`topology`] for the arguments and why.
//!
//! # Environment
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `AMQP_URL` | the broker: `amqp://USER:PASSWORD@HOST:PORT/VHOST` (vhost percent-encoded, `%2f` for `/`), or `amqps://` (TLS with rustls + ring and the system's roots); query options `heartbeat=SECONDS`, `frame_max`, `channel_max`, `auth_mechanism` | unset: the in-process hub |
//! | `EVENTS_DELIVERY_LIMIT` | how many times a message may be handed back before it is dead-lettered (the queue's `x-delivery-limit`; fixed when the queue is created) | `5` |
//! | `EVENTS_PREFETCH` | messages a consumer holds, and handlers it runs, at once | `10` |
//! | `EVENTS_RETRY_BACKOFF` | wait before handing back a retried message, doubled per delivery up to 30 s (a Go duration) | `1s` |
//! | `EVENTS_CONNECT_TIMEOUT` | how long connecting (and declaring the topology) may take | `5s` |
//! | `EVENTS_CONFIRM_TIMEOUT` | how long a published batch may wait for confirms | `10s` |
//! | `EVENTS_MEMORY_CAPACITY` | the most messages the in-process hub queues (and, separately, keeps as dead letters) | `10000` |
//!
//! A bad value is a configuration error naming the variable. Passwords are
//! redacted wherever a URL is shown: logs, `Debug`/`Display`, errors.

mod amqp;
mod bus;
mod config;
mod error;
mod event;
mod memory;
pub mod topology;

pub use amqp::HEARTBEAT_SECS;
pub use bus::{Bus, DEFAULT_HUB, DeadLetter, QueueDepths, RECONNECT_MAX, RECONNECT_MIN};
pub use config::{
    AMQP_URL_VAR, AmqpUrl, CONFIRM_TIMEOUT_VAR, CONNECT_TIMEOUT_VAR, DEFAULT_CONFIRM_TIMEOUT,
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_DELIVERY_LIMIT, DEFAULT_MEMORY_CAPACITY, DEFAULT_PREFETCH,
    DEFAULT_RETRY_BACKOFF, DELIVERY_LIMIT_VAR, EventsConfig, MAX_RETRY_BACKOFF,
    MEMORY_CAPACITY_VAR, PREFETCH_VAR, RETRY_BACKOFF_VAR,
};
pub use error::{EventsError, Handling, Scrubbed};
pub use event::{DecodeError, EventKind, OrderEvent, SCHEMA};
