//! The in-process hub: the bus without a broker, with the broker's semantics.
//!
//! One hub per name per process ([`hub`]), so the orders and dispatch services
//! that `boutique all` runs in one process meet in the hub named `default`,
//! and tests take hubs of their own. A hub is the dispatch queue and its
//! dead-letter queue, behaving as the RabbitMQ topology does:
//!
//! - at least once: a delivered message is leased ([`Lease`]) until it is
//!   settled; a lease dropped unsettled (the consumer stopped, or its handler
//!   was cancelled) hands the message back, as a closed channel does;
//! - a message handed back more than `delivery_limit` times, or rejected, goes
//!   to the dead-letter queue with the reason RabbitMQ gives (`delivery_limit`,
//!   `rejected`); handed-back messages go to the front, as a quorum queue
//!   redelivers returns first;
//! - bounded: the queue (ready plus leased) holds at most `capacity`
//!   messages and a publish that would pass it fails whole, so the outbox
//!   keeps the events; the dead-letter queue keeps the newest `capacity`
//!   dead letters, dropping (and logging) the oldest, so poison cannot block
//!   publishing.
//!
//! Nothing survives the process: the outbox table, not the hub, is what
//! makes events durable without a broker.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError},
};

use tokio::sync::Notify;

use crate::{
    DeadLetter, EventsConfig, EventsError, OrderEvent, QueueDepths,
    bus::{Outgoing, Verdict},
    topology::{BINDING_KEY, REASON_DELIVERY_LIMIT, REASON_REJECTED},
};

/// Every hub of the process, by name. Hubs are never removed: a handful of
/// names, each a few empty queues when idle.
static HUBS: LazyLock<Mutex<HashMap<String, Arc<Hub>>>> = LazyLock::new(Default::default);

/// The hub named `name`, made with `config`'s delivery limit and capacity if
/// it does not exist yet (like a queue's arguments, fixed when first declared).
pub(crate) fn hub(name: &str, config: &EventsConfig) -> Arc<Hub> {
    let mut hubs = HUBS.lock().unwrap_or_else(PoisonError::into_inner);
    Arc::clone(hubs.entry(name.to_owned()).or_insert_with(|| {
        Arc::new(Hub {
            name: name.to_owned(),
            delivery_limit: config.delivery_limit,
            capacity: config.memory_capacity,
            state: Mutex::default(),
            ready: Notify::new(),
        })
    }))
}

/// One dispatch queue and its dead-letter queue.
#[derive(Debug)]
pub(crate) struct Hub {
    name: String,
    delivery_limit: u32,
    capacity: usize,
    state: Mutex<State>,
    /// Woken when a message becomes ready.
    ready: Notify,
}

#[derive(Debug, Default)]
struct State {
    ready: VecDeque<Message>,
    leased: usize,
    dead: VecDeque<DeadLetter>,
}

#[derive(Debug)]
struct Message {
    body: Vec<u8>,
    /// How many times it was handed back (RabbitMQ's `x-delivery-count`).
    returns: u32,
}

impl Hub {
    /// The hub's name, for logs.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Queues `messages` in order, all or none.
    pub(crate) fn publish(&self, messages: &[Outgoing<'_>]) -> Result<(), EventsError> {
        if let Some(message) = messages.iter().find(|m| !binding_matches(m.routing_key)) {
            return Err(EventsError::Unroutable {
                event_id: message.id.to_owned(),
                routing_key: message.routing_key.to_owned(),
            });
        }
        let mut state = self.lock();
        if state.ready.len() + state.leased + messages.len() > self.capacity {
            return Err(EventsError::Full {
                capacity: self.capacity,
            });
        }
        state.ready.extend(messages.iter().map(|m| Message {
            body: m.body.clone(),
            returns: 0,
        }));
        drop(state);
        self.ready.notify_waiters();
        Ok(())
    }

    /// Waits for the next ready message and leases it.
    pub(crate) async fn take(self: &Arc<Self>) -> Lease {
        loop {
            // Registered before looking, so a publish in between is not missed.
            let notified = self.ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut state = self.lock();
                if let Some(message) = state.ready.pop_front() {
                    state.leased += 1;
                    return Lease {
                        hub: Arc::clone(self),
                        message: Some(message),
                    };
                }
            }
            notified.await;
        }
    }

    /// The ready messages of the queue and the dead letters.
    pub(crate) fn depths(&self) -> QueueDepths {
        let state = self.lock();
        QueueDepths {
            ready: state.ready.len() as u64,
            dead: state.dead.len() as u64,
        }
    }

    /// Removes and returns up to `n` dead letters, oldest first.
    pub(crate) fn drain_dead_letters(&self, n: usize) -> Vec<DeadLetter> {
        let mut state = self.lock();
        let n = n.min(state.dead.len());
        state.dead.drain(..n).collect()
    }

    /// Settles a leased message.
    fn settle(&self, mut message: Message, verdict: Verdict) {
        let mut state = self.lock();
        state.leased -= 1;
        match verdict {
            Verdict::Ack => {}
            Verdict::Reject => self.dead_letter(&mut state, message, REASON_REJECTED),
            Verdict::Requeue => {
                message.returns = message.returns.saturating_add(1);
                if message.returns > self.delivery_limit {
                    self.dead_letter(&mut state, message, REASON_DELIVERY_LIMIT);
                } else {
                    state.ready.push_front(message);
                    drop(state);
                    self.ready.notify_waiters();
                }
            }
        }
    }

    fn dead_letter(&self, state: &mut State, message: Message, reason: &str) {
        if state.dead.len() >= self.capacity {
            tracing::error!(
                hub = %self.name,
                capacity = self.capacity,
                "The in-memory dead-letter queue is full; dropping its oldest message."
            );
            state.dead.pop_front();
        }
        state.dead.push_back(DeadLetter {
            event: OrderEvent::from_json(&message.body).ok(),
            body: message.body,
            reason: Some(reason.to_owned()),
        });
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent across a panic (every change is one
        // step), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A delivered message, held until settled; dropped unsettled, it goes back
/// to the queue as a redelivery.
#[derive(Debug)]
pub(crate) struct Lease {
    hub: Arc<Hub>,
    message: Option<Message>,
}

impl Lease {
    /// The message body.
    pub(crate) fn body(&self) -> &[u8] {
        self.message.as_ref().map_or(&[], |m| &m.body)
    }

    /// Which delivery of the message this is (1 for the first).
    pub(crate) fn delivery(&self) -> u32 {
        self.message
            .as_ref()
            .map_or(1, |m| m.returns.saturating_add(1))
    }

    /// Acknowledges, hands back or dead-letters the message.
    pub(crate) fn settle(mut self, verdict: Verdict) {
        if let Some(message) = self.message.take() {
            self.hub.settle(message, verdict);
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(message) = self.message.take() {
            self.hub.settle(message, Verdict::Requeue);
        }
    }
}

/// Whether `routing_key` matches the dispatch queue's binding, `order.#`
/// (`order` itself, or anything starting `order.`).
fn binding_matches(routing_key: &str) -> bool {
    let prefix = BINDING_KEY.trim_end_matches(".#");
    routing_key == prefix
        || routing_key
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_binding_takes_every_order_key() {
        for key in [
            "order",
            "order.placed",
            "order.needs_attention",
            "order.a.b",
        ] {
            assert!(binding_matches(key), "{key}");
        }
        for key in ["orders.placed", "payment.charged", "", "ORDER.placed"] {
            assert!(!binding_matches(key), "{key}");
        }
    }
}
