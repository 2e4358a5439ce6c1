//! The backend matrix and the waiting helpers.
//!
//! [`on_both_backends!`] turns one `async fn(Fixture)` into a test per backend:
//! a memory hub of its own, or a virtual host of its own on the test binary's
//! shared RabbitMQ broker (skipped with a message when RabbitMQ is not
//! installed, failed under `CI=true`). Tests wait on conditions with a bound,
//! never for a fixed time.

use std::{
    future::Future,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use boutique_events::{Bus, EventKind, EventsConfig, EventsError, Handling, OrderEvent};
use boutique_testkit::rabbitmq::RabbitServer;
use tokio::{sync::mpsc, task::JoinHandle};
use tokio_util::sync::CancellationToken;

/// How long any one thing may take before the test fails.
pub(crate) const PATIENCE: Duration = Duration::from_secs(20);

/// The delivery limit of the test topology: small, so giving up is quick.
pub(crate) const DELIVERY_LIMIT: u32 = 3;

/// Names hubs apart within one test process.
static HUBS: AtomicU64 = AtomicU64::new(0);

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Memory,
    RabbitMq,
}

/// A fresh, empty topology on one backend.
#[derive(Debug)]
pub(crate) struct Fixture {
    pub(crate) kind: Kind,
    pub(crate) config: EventsConfig,
    hub: String,
}

impl Fixture {
    /// A fresh topology of `kind`, or `None` to skip (RabbitMQ missing).
    pub(crate) fn new(kind: Kind) -> Option<Self> {
        let mut config = test_config();
        if kind == Kind::RabbitMq {
            let url = RabbitServer::shared()?.add_vhost();
            config.amqp_url = Some(EventsConfig::amqp(&url).unwrap().amqp_url.unwrap());
        }
        Some(Self {
            kind,
            config,
            hub: format!("test-{}", HUBS.fetch_add(1, Ordering::Relaxed)),
        })
    }

    /// A new bus on this topology (a new connection over RabbitMQ).
    pub(crate) fn bus(&self) -> Bus {
        match self.kind {
            Kind::Memory => Bus::memory_with(&self.hub, self.config.clone()),
            Kind::RabbitMq => Bus::new(self.config.clone()),
        }
    }
}

/// Settings that keep tests quick: a small delivery limit, short backoffs.
pub(crate) fn test_config() -> EventsConfig {
    EventsConfig {
        delivery_limit: DELIVERY_LIMIT,
        retry_backoff: Duration::from_millis(10),
        // Generous: a busy broker, creating a quorum queue in a new vhost
        // while other tests do the same, can take seconds.
        connect_timeout: Duration::from_secs(20),
        confirm_timeout: Duration::from_secs(20),
        ..EventsConfig::default()
    }
}

/// An event of `kind` for order `order_id`.
pub(crate) fn event(kind: EventKind, order_id: &str) -> OrderEvent {
    OrderEvent::new(kind, order_id, "test")
}

/// A consumer running in its own task.
#[derive(Debug)]
pub(crate) struct Running {
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), EventsError>>,
}

impl Running {
    /// Fires the shutdown and waits for `consume` to return.
    pub(crate) async fn stop(self) -> Result<(), EventsError> {
        self.shutdown.cancel();
        tokio::time::timeout(PATIENCE, self.task)
            .await
            .expect("consume returns soon after shutdown")
            .expect("the consumer task does not panic")
    }
}

/// Starts `bus.consume(handler)` in a task of its own.
pub(crate) fn spawn_consumer<H, F>(bus: &Bus, handler: H) -> Running
where
    H: Fn(OrderEvent) -> F + Send + Sync + 'static,
    F: Future<Output = Result<(), Handling>> + Send + 'static,
{
    let shutdown = CancellationToken::new();
    let bus = bus.clone();
    let token = shutdown.clone();
    let task = tokio::spawn(async move { bus.consume(handler, token).await });
    Running { shutdown, task }
}

/// A handler that reports every event it is given and acknowledges it.
pub(crate) fn recorder() -> (
    impl Fn(OrderEvent) -> std::future::Ready<Result<(), Handling>> + Send + Sync + 'static,
    mpsc::UnboundedReceiver<OrderEvent>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let handler = move |event: OrderEvent| {
        let _ = tx.send(event);
        std::future::ready(Ok(()))
    };
    (handler, rx)
}

/// The next `n` events from `rx`; fails the test if they take too long.
pub(crate) async fn receive(
    rx: &mut mpsc::UnboundedReceiver<OrderEvent>,
    n: usize,
) -> Vec<OrderEvent> {
    let mut events = Vec::with_capacity(n);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while events.len() < n {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(event)) => events.push(event),
            Ok(None) => panic!("the handler went away after {} of {n} events", events.len()),
            Err(_) => panic!(
                "received {} of {n} events within {PATIENCE:?}: {:?}",
                events.len(),
                events.iter().map(|e| &e.order_id).collect::<Vec<_>>()
            ),
        }
    }
    events
}

/// Polls `check` until it gives `Some`, failing the test after [`PATIENCE`].
pub(crate) async fn eventually<T, Fut>(what: &str, check: impl FnMut() -> Fut) -> T
where
    Fut: Future<Output = Option<T>>,
{
    boutique_testkit::eventually(what, PATIENCE, check).await
}

/// Waits until the dead-letter queue holds `n` messages.
pub(crate) async fn dead_letters_reach(bus: &Bus, n: u64) {
    eventually(&format!("{n} dead letters"), || async {
        let depths = bus.depths().await.expect("depths");
        (depths.dead == n).then_some(())
    })
    .await;
}

/// Checks that nothing is left for a consumer: a new consumer's first event
/// is a sentinel published now. A message that was handed back (not
/// acknowledged) would come first, since handed-back messages are delivered
/// before new ones.
pub(crate) async fn assert_nothing_left(fixture: &Fixture) {
    let bus = fixture.bus();
    let (handler, mut rx) = recorder();
    let consumer = spawn_consumer(&bus, handler);
    let sentinel = event(EventKind::OrderPlaced, "sentinel");
    bus.publish(std::slice::from_ref(&sentinel)).await.unwrap();
    let first = receive(&mut rx, 1).await;
    consumer.stop().await.unwrap();
    assert_eq!(
        first[0].order_id, "sentinel",
        "a message was left in the queue: {:?}",
        first[0]
    );
}

/// An error and all its causes, as one line.
pub(crate) fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Defines, for each `async fn name(Fixture)`, a module `name` with one test
/// per backend: `memory` and `rabbitmq`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use crate::helpers::{Fixture, Kind};

                async fn run(kind: Kind) {
                    if let Some(fixture) = Fixture::new(kind) {
                        super::$name(fixture).await;
                    }
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn memory() {
                    run(Kind::Memory).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(
                    missing_rabbitmq_server,
                    ignore = "needs rabbitmq-server (Debian rabbitmq-server)"
                )]
                async fn rabbitmq() {
                    run(Kind::RabbitMq).await;
                }
            }
        )*
    };
}
pub(crate) use on_both_backends;
