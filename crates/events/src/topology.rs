//! The names events travel through, the same for RabbitMQ and the memory hub.
//!
//! ```text
//! publisher ──▶ boutique.orders (topic, durable)
//!                 │ order.#
//!                 ▼
//!               boutique.dispatch (quorum queue) ──▶ consumer (the dispatch service)
//!                 │ rejected, or redelivered more than the delivery limit
//!                 ▼
//!               boutique.orders.dead (fanout, durable) ──▶ boutique.dispatch.dead (durable)
//! ```
//!
//! Every event is published to [`EXCHANGE`] with its kind's routing key
//! (`order.charged`), persistent, `content_type` `application/json`,
//! `message_id` the event id and `type` the kind name. [`QUEUE`] is a quorum
//! queue (replicated, and it counts deliveries, which classic queues do not)
//! with `x-delivery-limit`, dead-lettering to [`DEAD_EXCHANGE`]. Dead-lettering
//! is at least once (`x-dead-letter-strategy`, new in RabbitMQ 3.10 for quorum
//! queues; it requires `x-overflow=reject-publish`, which changes nothing here
//! since the queue has no length limit): a message leaves the dispatch queue
//! only once the dead-letter queue has it.
//!
//! Publishers and consumers both declare all of it on connect. Declarations
//! are idempotent, so whichever starts first creates the topology and events
//! published before any consumer ran wait in the queue. Declaring an existing
//! queue with other arguments (a different delivery limit) fails with
//! `PRECONDITION_FAILED`: a queue's arguments are fixed when it is created, so
//! changing the limit means deleting the (drained) queue first.

/// The topic exchange every order event is published to.
pub const EXCHANGE: &str = "boutique.orders";
/// The dispatch service's queue: every order event.
pub const QUEUE: &str = "boutique.dispatch";
/// How [`QUEUE`] is bound to [`EXCHANGE`]: every `order.*` routing key.
pub const BINDING_KEY: &str = "order.#";
/// The fanout exchange [`QUEUE`] dead-letters to.
pub const DEAD_EXCHANGE: &str = "boutique.orders.dead";
/// Where dead letters wait for an operator (or [`crate::Bus::drain_dead_letters`]).
pub const DEAD_QUEUE: &str = "boutique.dispatch.dead";

/// The `content_type` of every published event.
pub const CONTENT_TYPE: &str = "application/json";

/// The dead-letter reason of a message the consumer rejected (poison).
pub const REASON_REJECTED: &str = "rejected";
/// The dead-letter reason of a message delivered more times than the limit.
pub const REASON_DELIVERY_LIMIT: &str = "delivery_limit";
