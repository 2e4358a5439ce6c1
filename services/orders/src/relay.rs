//! The outbox relay: publishes the events the order book wrote to its
//! outbox, then removes them.
//!
//! Events are written in the same transaction as the state change they
//! announce (see `boutique_store::orders`), so an event exists exactly when
//! its change was stored. The relay publishes them oldest first and deletes
//! them only once the broker confirmed them: a broker that is down (or a
//! crash between publishing and deleting) leaves them in the outbox, to be
//! published when it is back. Delivery is therefore at least once; an
//! event keeps its id when republished, and consumers drop what they have
//! seen (see the dispatch service). With several replicas each relays the
//! same outbox, which may publish an event twice; that is the same case.
//!
//! The flag `boutique.queue.publishFailure` fails that fraction of publishes
//! here, before anything is sent, exactly as a broker error would: the batch
//! stays in the outbox and the relay tries again after its backoff.

use std::time::Duration;

use boutique_events::{Bus, EventKind, OrderEvent, SCHEMA};
use boutique_flags::{Flags, names::QUEUE_PUBLISH_FAILURE};
use boutique_store::{OrderBook, orders::OutboxEvent};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// How many events one publish carries at most.
const BATCH: u32 = 100;
/// How often the outbox is looked at when nothing wakes the relay (events
/// written by another replica, or left by a crash).
const POLL: Duration = Duration::from_secs(1);
/// How long the relay waits, once woken, for more events to batch.
const LINGER: Duration = Duration::from_millis(20);
/// The longest pause between attempts while the broker is down.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The relay's outbox, bus and flags.
pub(crate) struct Relay {
    pub(crate) book: OrderBook,
    pub(crate) bus: Bus,
    pub(crate) flags: Flags,
}

impl Relay {
    /// Relays until `stop`, woken early by `wake` when this replica wrote events.
    pub(crate) async fn run(self, wake: std::sync::Arc<Notify>, stop: CancellationToken) {
        let mut backoff = Duration::ZERO;
        loop {
            let pause = match self.relay_once().await {
                // A full batch: there may be more, go on at once.
                Ok(n) if n == BATCH as usize => {
                    backoff = Duration::ZERO;
                    continue;
                }
                Ok(_) => {
                    backoff = Duration::ZERO;
                    POLL
                }
                Err(error) => {
                    backoff = (backoff * 2).clamp(Duration::from_millis(100), MAX_BACKOFF);
                    tracing::warn!(%error, retry_in_ms = backoff.as_millis(), "Order events wait in the outbox: could not publish them.");
                    backoff
                }
            };
            tokio::select! {
                () = stop.cancelled() => return,
                () = wake.notified(), if backoff.is_zero() => {
                    // Let the events of concurrent orders gather into one batch:
                    // a publish and a delete per batch, not per event.
                    tokio::time::sleep(LINGER).await;
                }
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Publishes one batch and clears it from the outbox; how many it published.
    async fn relay_once(&self) -> Result<usize, String> {
        let waiting = self
            .book
            .outbox(BATCH)
            .await
            .map_err(|e| format!("{e:#}"))?;
        if waiting.is_empty() {
            return Ok(0);
        }
        if self.flags.fraction(QUEUE_PUBLISH_FAILURE).await {
            return Err(format!(
                "publishing failed on purpose (flag {QUEUE_PUBLISH_FAILURE})"
            ));
        }
        let events: Vec<OrderEvent> = waiting.iter().filter_map(to_event).collect();
        self.bus
            .publish(&events)
            .await
            .map_err(|e| format!("{e:#}"))?;
        let ids: Vec<String> = waiting.into_iter().map(|e| e.event_id).collect();
        self.book
            .remove_published(&ids)
            .await
            .map_err(|e| format!("{e:#}"))?;
        tracing::debug!(events = ids.len(), "Published order events.");
        Ok(ids.len())
    }
}

/// The event as published; `None` (logged) for a type this build does not
/// know, which can only come from a newer version and is left out.
fn to_event(row: &OutboxEvent) -> Option<OrderEvent> {
    let Some(kind) = EventKind::from_name(&row.event_type) else {
        tracing::error!(event_id = %row.event_id, event_type = %row.event_type, "Unknown order event type in the outbox; not published.");
        return None;
    };
    Some(OrderEvent {
        schema: SCHEMA.to_owned(),
        id: row.event_id.clone(),
        kind,
        order_id: row.order_id.clone(),
        state: row.state.as_str().to_owned(),
        occurred_at_ms: row.occurred_at_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use boutique_store::orders::OrderState;

    #[test]
    fn every_event_the_book_writes_has_a_kind() {
        for state in OrderState::ALL {
            let row = OutboxEvent {
                event_id: "e".to_owned(),
                order_id: "o".to_owned(),
                event_type: state.event_type().to_owned(),
                state,
                occurred_at_ms: 1,
            };
            let event = to_event(&row).unwrap_or_else(|| panic!("{state} has no event kind"));
            assert_eq!(event.state, state.as_str());
        }
    }
}
