//! [`Bus`]: publish order events, consume them, look at the queues; the same
//! calls and the same semantics over RabbitMQ and over the memory hub.

use std::{fmt, future::Future, sync::Arc, time::Duration};

use futures::{FutureExt, Stream, StreamExt, stream::FuturesUnordered};
use rand::Rng;
use tokio_util::sync::CancellationToken;

use crate::{
    EventsConfig, EventsError, Handling, OrderEvent,
    amqp::{Amqp, AmqpDelivery},
    error::Chain,
    event::SCHEMA,
    memory::{self, Hub, Lease},
};

/// The memory hub [`Bus::new`] uses without `AMQP_URL`: one per process, so
/// services run together by `boutique all` share it.
pub const DEFAULT_HUB: &str = "default";

/// The first wait before a consumer reconnects; doubled per failed attempt.
pub const RECONNECT_MIN: Duration = Duration::from_millis(200);
/// The longest wait between a consumer's reconnect attempts: short, since a
/// broker back from a restart should get its consumers back within seconds.
pub const RECONNECT_MAX: Duration = Duration::from_secs(5);

/// The order-event bus. Cheap to clone: clones share the connection.
#[derive(Clone)]
pub struct Bus {
    inner: Arc<Inner>,
}

struct Inner {
    config: EventsConfig,
    backend: Backend,
}

enum Backend {
    Memory(Arc<Hub>),
    // Boxed: the memory side is one pointer, the broker side a connection slot.
    Amqp(Box<Amqp>),
}

/// How many messages wait in the queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueDepths {
    /// Ready in the dispatch queue (not counting those a consumer holds).
    pub ready: u64,
    /// In the dead-letter queue.
    pub dead: u64,
}

/// A message taken off the dead-letter queue.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// The body as published.
    pub body: Vec<u8>,
    /// The body as an event, if it is one.
    pub event: Option<OrderEvent>,
    /// Why it was dead-lettered, as RabbitMQ says it: `rejected` (poison) or
    /// `delivery_limit` (retried too often); `None` if the broker did not say.
    pub reason: Option<String>,
}

impl Bus {
    /// A bus for `config`: RabbitMQ if it names a broker (nothing connects
    /// until the first call), else the process's [`DEFAULT_HUB`].
    pub fn new(config: EventsConfig) -> Self {
        match config.amqp_url.clone() {
            Some(url) => Self::with_backend(
                Backend::Amqp(Box::new(Amqp::new(url, config.clone()))),
                config,
            ),
            None => Self::memory_with(DEFAULT_HUB, config),
        }
    }

    /// The memory hub named `name` (tests take a unique name each), with the
    /// default settings.
    pub fn memory(name: &str) -> Self {
        Self::memory_with(name, EventsConfig::default())
    }

    /// The memory hub named `name` with `config`'s settings (its URL ignored).
    /// The delivery limit and capacity are the hub's, fixed by the first bus
    /// that used the name, as a queue's arguments are by its first declaration.
    pub fn memory_with(name: &str, config: EventsConfig) -> Self {
        Self::with_backend(Backend::Memory(memory::hub(name, &config)), config)
    }

    fn with_backend(backend: Backend, config: EventsConfig) -> Self {
        Self {
            inner: Arc::new(Inner { config, backend }),
        }
    }

    /// The settings.
    pub fn config(&self) -> &EventsConfig {
        &self.inner.config
    }

    /// Publishes a batch, in order; returns `Ok` only when every event is safe
    /// with the broker (RabbitMQ confirmed each; the hub queued all of them).
    ///
    /// On error some events may have been sent: publish them again (the
    /// outbox does), and consumers drop duplicates by event id. A dead broker
    /// fails within the connect timeout, and the next call reconnects.
    pub async fn publish(&self, events: &[OrderEvent]) -> Result<(), EventsError> {
        let messages = events
            .iter()
            .map(|event| {
                if event.schema != SCHEMA {
                    return Err(invalid(event, format!("schema must be {SCHEMA:?}")));
                }
                if event.id.is_empty() {
                    return Err(invalid(event, "the id is empty".to_owned()));
                }
                Ok(Outgoing {
                    id: &event.id,
                    routing_key: event.routing_key(),
                    kind: Some(event.kind.name()),
                    occurred_at_ms: Some(event.occurred_at_ms),
                    body: event.to_json().into_bytes(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.send(&messages).await
    }

    /// Publishes `body` as it is, with `routing_key`: for tools (putting a
    /// mended dead letter back) and tests (a body that is not an event).
    /// Otherwise as [`Bus::publish`].
    pub async fn publish_raw(&self, routing_key: &str, body: &[u8]) -> Result<(), EventsError> {
        self.send(&[Outgoing {
            id: "",
            routing_key,
            kind: None,
            occurred_at_ms: None,
            body: body.to_vec(),
        }])
        .await
    }

    async fn send(&self, messages: &[Outgoing<'_>]) -> Result<(), EventsError> {
        if messages.is_empty() {
            return Ok(());
        }
        match &self.inner.backend {
            Backend::Memory(hub) => hub.publish(messages),
            Backend::Amqp(amqp) => amqp.publish(messages).await,
        }
    }

    /// Consumes the dispatch queue until `shutdown` fires, running `handler`
    /// on each event, up to `prefetch` at a time (started in delivery order).
    ///
    /// The handler's verdict settles the message, and only once it returns:
    /// `Ok` acknowledges it; [`Handling::Retry`] hands it back after a backoff
    /// ([`EventsConfig::retry_delay`]) for redelivery, and past the delivery
    /// limit it is dead-lettered; [`Handling::Poison`], or a body that is not
    /// an event of our schema, dead-letters it at once. When `shutdown` fires,
    /// messages already handled are settled, handlers still running are
    /// dropped, and their messages go back to the queue to be delivered again
    /// (handlers must be idempotent anyway: delivery is at least once).
    ///
    /// Over RabbitMQ a lost connection (or a broker that cannot be reached) is
    /// retried with capped, jittered backoff ([`RECONNECT_MIN`] to
    /// [`RECONNECT_MAX`]); this returns an error only for what reconnecting
    /// cannot fix ([`EventsError::Topology`]).
    pub async fn consume<H, F>(
        &self,
        handler: H,
        shutdown: CancellationToken,
    ) -> Result<(), EventsError>
    where
        H: Fn(OrderEvent) -> F + Send + Sync + 'static,
        F: Future<Output = Result<(), Handling>> + Send,
    {
        let config = &self.inner.config;
        match &self.inner.backend {
            Backend::Memory(hub) => {
                tracing::info!(hub = %hub.name(), "Consuming order events from the in-process hub.");
                let leases = Box::pin(futures::stream::unfold(Arc::clone(hub), |hub| async {
                    let lease = hub.take().await;
                    Some((Ok(Incoming::Memory(lease)), hub))
                }));
                run(leases, &handler, config, &shutdown).await;
                Ok(())
            }
            Backend::Amqp(amqp) => consume_amqp(amqp, &handler, config, &shutdown).await,
        }
    }

    /// How many messages wait in the dispatch queue and the dead-letter queue
    /// (for metrics and alerts). Over RabbitMQ, a passive declare of each, on
    /// the publishing connection (opened if need be).
    pub async fn depths(&self) -> Result<QueueDepths, EventsError> {
        match &self.inner.backend {
            Backend::Memory(hub) => Ok(hub.depths()),
            Backend::Amqp(amqp) => amqp.depths().await,
        }
    }

    /// Takes (and acknowledges) up to `n` messages off the dead-letter queue,
    /// oldest first: for an operator's tool, and tests.
    pub async fn drain_dead_letters(&self, n: usize) -> Result<Vec<DeadLetter>, EventsError> {
        match &self.inner.backend {
            Backend::Memory(hub) => Ok(hub.drain_dead_letters(n)),
            Backend::Amqp(amqp) => amqp.drain_dead_letters(n).await,
        }
    }
}

/// Says which backend, fit for a start-up log line (no password).
impl fmt::Display for Bus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner.backend {
            Backend::Memory(hub) => write!(f, "in-process hub {:?} (lost at exit)", hub.name()),
            Backend::Amqp(amqp) => write!(f, "RabbitMQ at {}", amqp.url()),
        }
    }
}

impl fmt::Debug for Bus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bus")
            .field("backend", &self.to_string())
            .field("config", &self.inner.config)
            .finish()
    }
}

/// A message to publish.
#[derive(Debug)]
pub(crate) struct Outgoing<'a> {
    /// The event id (`""` for a raw body): the AMQP `message_id`.
    pub(crate) id: &'a str,
    pub(crate) routing_key: &'a str,
    /// The event kind's name: the AMQP `type`.
    pub(crate) kind: Option<&'static str>,
    pub(crate) occurred_at_ms: Option<i64>,
    pub(crate) body: Vec<u8>,
}

/// What a consumer decided about a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Done with it: acknowledge.
    Ack,
    /// Hand it back for redelivery (counts towards the delivery limit).
    Requeue,
    /// Dead-letter it.
    Reject,
}

/// A delivered message from either backend.
enum Incoming {
    Memory(Lease),
    Amqp(AmqpDelivery),
}

impl Incoming {
    fn body(&self) -> &[u8] {
        match self {
            Self::Memory(lease) => lease.body(),
            Self::Amqp(delivery) => &delivery.body,
        }
    }

    /// Which delivery of the message this is (1 for the first).
    fn delivery(&self) -> u32 {
        match self {
            Self::Memory(lease) => lease.delivery(),
            Self::Amqp(delivery) => delivery.delivery,
        }
    }

    async fn settle(self, verdict: Verdict) {
        match self {
            Self::Memory(lease) => lease.settle(verdict),
            Self::Amqp(delivery) => delivery.settle(verdict).await,
        }
    }
}

/// Why [`run`] returned.
enum Ended {
    Shutdown,
    /// The deliveries stopped: the connection is gone (with the error), or the
    /// broker cancelled the consumer (no error).
    Lost(Option<EventsError>),
}

/// [`Bus::consume`] over RabbitMQ: consume, and when the connection is lost
/// (or cannot be made), wait and connect again.
async fn consume_amqp<H, F>(
    amqp: &Amqp,
    handler: &H,
    config: &EventsConfig,
    shutdown: &CancellationToken,
) -> Result<(), EventsError>
where
    H: Fn(OrderEvent) -> F,
    F: Future<Output = Result<(), Handling>>,
{
    let mut failures: u32 = 0;
    loop {
        let opened = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            opened = amqp.consumer() => opened,
        };
        match opened {
            Ok(mut consumer) => {
                failures = 0;
                tracing::info!(url = %amqp.url(), "Consuming order events from RabbitMQ.");
                let deliveries = consumer
                    .deliveries()
                    .map(|delivery| delivery.map(Incoming::Amqp));
                let ended = run(deliveries, handler, config, shutdown).await;
                consumer.close(config.connect_timeout).await;
                match ended {
                    Ended::Shutdown => return Ok(()),
                    Ended::Lost(Some(error)) => {
                        tracing::warn!(error = %Chain(&error), "Lost the connection to RabbitMQ; reconnecting.");
                    }
                    Ended::Lost(None) => {
                        tracing::warn!("RabbitMQ cancelled the consumer; reconnecting.");
                    }
                }
            }
            Err(error) if error.is_fatal() => return Err(error),
            Err(error) => {
                failures = failures.saturating_add(1);
                tracing::warn!(
                    error = %Chain(&error),
                    attempt = failures,
                    "Cannot consume from RabbitMQ; retrying."
                );
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(reconnect_delay(failures)) => {}
        }
    }
}

/// Handles `deliveries` until `shutdown` fires or they stop, with at most
/// `prefetch` messages held.
///
/// Each message goes through two phases: its handler (and, for a retry, the
/// backoff), then settling it by the verdict. On shutdown, handlers still
/// running are dropped (their messages go back to the queue), but messages
/// already handled are settled first, within `connect_timeout`: an event
/// handled just before shutdown is not redelivered for want of its ack.
async fn run<S, H, F>(
    mut deliveries: S,
    handler: &H,
    config: &EventsConfig,
    shutdown: &CancellationToken,
) -> Ended
where
    S: Stream<Item = Result<Incoming, EventsError>> + Unpin,
    H: Fn(OrderEvent) -> F,
    F: Future<Output = Result<(), Handling>>,
{
    let mut handling = FuturesUnordered::new();
    let mut settling = FuturesUnordered::new();
    // One future type per phase, so the sets can hold them unboxed.
    let settle = |(incoming, verdict): (Incoming, Verdict)| incoming.settle(verdict);
    let limit = usize::from(config.prefetch.max(1));
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            Some(handled) = handling.next(), if !handling.is_empty() => {
                settling.push(settle(handled));
            }
            Some(()) = settling.next(), if !settling.is_empty() => {}
            next = deliveries.next(), if handling.len() + settling.len() < limit => match next {
                Some(Ok(incoming)) => handling.push(handle(incoming, handler, config)),
                // Settling over a lost connection cannot work: the broker
                // hands back everything unacknowledged.
                Some(Err(error)) => return Ended::Lost(Some(error)),
                None => return Ended::Lost(None),
            },
        }
    }
    // Handlers that have finished still get their verdict; the others are
    // dropped with `handling`.
    while let Some(Some(handled)) = handling.next().now_or_never() {
        settling.push(settle(handled));
    }
    drop(handling);
    let settled = async { while settling.next().await.is_some() {} };
    if tokio::time::timeout(config.connect_timeout, settled)
        .await
        .is_err()
    {
        tracing::warn!("Gave up settling handled messages at shutdown; they will be redelivered.");
    }
    Ended::Shutdown
}

/// Runs the handler on one message and decides its verdict.
async fn handle<H, F>(incoming: Incoming, handler: &H, config: &EventsConfig) -> (Incoming, Verdict)
where
    H: Fn(OrderEvent) -> F,
    F: Future<Output = Result<(), Handling>>,
{
    let delivery = incoming.delivery();
    let event = match OrderEvent::from_json(incoming.body()) {
        Ok(event) => event,
        Err(error) => {
            tracing::warn!(
                error = %Chain(&error),
                "Dead-lettering a message that is not an order event."
            );
            return (incoming, Verdict::Reject);
        }
    };
    let (id, kind) = (event.id.clone(), event.kind);
    let verdict = match handler(event).await {
        Ok(()) => Verdict::Ack,
        Err(Handling::Retry(reason)) => {
            let delay = config.retry_delay(delivery);
            tracing::info!(
                event_id = %id, %kind, delivery, %reason, ?delay,
                "The handler asked to retry an event; handing it back."
            );
            tokio::time::sleep(delay).await;
            Verdict::Requeue
        }
        Err(Handling::Poison(reason)) => {
            tracing::warn!(
                event_id = %id, %kind, %reason,
                "The handler rejected an event as poison; dead-lettering it."
            );
            Verdict::Reject
        }
    };
    (incoming, verdict)
}

/// The wait before reconnect attempt `failures + 1`: doubling from
/// [`RECONNECT_MIN`] up to [`RECONNECT_MAX`], then between half and all of it
/// at random, so consumers that lost the same broker do not return in step.
fn reconnect_delay(failures: u32) -> Duration {
    let ceiling = RECONNECT_MIN
        .saturating_mul(1 << failures.min(16))
        .min(RECONNECT_MAX);
    let half = ceiling / 2;
    half + half.mul_f64(rand::rng().random::<f64>())
}

fn invalid(event: &OrderEvent, reason: String) -> EventsError {
    EventsError::Invalid {
        event_id: event.id.clone(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnect_delay_is_capped_and_jittered() {
        for failures in [0, 1, 3, 10, u32::MAX] {
            let ceiling = RECONNECT_MIN
                .saturating_mul(1 << failures.min(16))
                .min(RECONNECT_MAX);
            let delay = reconnect_delay(failures);
            assert!(
                delay >= ceiling / 2 && delay <= ceiling,
                "{failures}: {delay:?}"
            );
        }
        assert!(reconnect_delay(u32::MAX) <= RECONNECT_MAX);
    }
}
