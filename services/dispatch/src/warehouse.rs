//! What the warehouse does with each order event (see the crate docs).

use std::{sync::Arc, time::Duration};

use boutique_events::{Bus, EventKind, Handling, OrderEvent};
use boutique_flags::{Flags, faults::MAX_DELAY, names::QUEUE_CONSUMER_STALL};
use boutique_platform::{
    clock::{millis, now_ms},
    telemetry::grpc::TracedChannel,
};
use boutique_proto::boutique::orders::v1::{
    AdvanceOrderRequest, OrderState, order_service_client::OrderServiceClient,
};
use tokio_util::sync::CancellationToken;
use tonic::Code;

use crate::metrics::{DispatchMetrics, Outcome};

/// How long one call to the orders service may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// The warehouse's dependencies and timings. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Warehouse {
    pub(crate) orders: OrderServiceClient<TracedChannel>,
    pub(crate) dispatch_delay: Duration,
    pub(crate) delivery_delay: Duration,
    pub(crate) metrics: DispatchMetrics,
    pub(crate) stall: Stall,
}

/// The flag `boutique.queue.consumerStall`: while it is on, each event waits
/// that many milliseconds before it is handled, and the events wait their
/// turns one at a time, so the consumer gets through one event per stall
/// (its prefetch fills, then the queue grows, as with a consumer that hangs).
/// The flag is read again while stalling, so switching it off releases the
/// stalled event and every waiting one at once.
#[derive(Debug, Clone)]
pub(crate) struct Stall {
    flags: Flags,
    turn: Arc<tokio::sync::Mutex<()>>,
}

/// How often a stalled event looks at the flag again.
const STALL_RECHECK: Duration = Duration::from_millis(250);

impl Stall {
    pub(crate) fn new(flags: Flags) -> Self {
        Self {
            flags,
            turn: Arc::default(),
        }
    }

    /// The flag's stall now (at most the flags' longest delay).
    async fn length(&self) -> Duration {
        let millis = self.flags.number(QUEUE_CONSUMER_STALL).await;
        if millis > 0.0 {
            Duration::from_secs_f64(millis / 1000.0).min(MAX_DELAY)
        } else {
            Duration::ZERO
        }
    }

    /// Waits out the stall, if the flag asks for one.
    async fn wait(&self) {
        if self.length().await.is_zero() {
            return;
        }
        let _turn = self.turn.lock().await;
        let started = tokio::time::Instant::now();
        loop {
            let left = self.length().await.saturating_sub(started.elapsed());
            if left.is_zero() {
                return;
            }
            tokio::time::sleep(left.min(STALL_RECHECK)).await;
        }
    }
}

/// Consumes until `stop`. A consumer that gives up (a broker whose queue
/// does not match ours) is logged; the service keeps serving health, and
/// the dead-letter and depth metrics show the backlog.
pub(crate) async fn run(warehouse: Warehouse, bus: Bus, stop: CancellationToken) {
    let consumed = bus
        .consume(
            move |event| {
                let warehouse = warehouse.clone();
                async move { warehouse.handle(event).await }
            },
            stop,
        )
        .await;
    if let Err(error) = consumed {
        tracing::error!(%error, "Stopped consuming order events.");
    }
}

impl Warehouse {
    /// Handles one event; the verdict acks, retries or dead-letters it.
    pub(crate) async fn handle(&self, event: OrderEvent) -> Result<(), Handling> {
        self.stall.wait().await;
        let (delay, to) = match event.kind {
            EventKind::OrderShipped => (self.dispatch_delay, OrderState::Dispatched),
            EventKind::OrderDispatched => (self.delivery_delay, OrderState::Delivered),
            _ => {
                self.metrics.handled(event.kind, Outcome::Ignored);
                return Ok(());
            }
        };
        // The warehouse takes `delay` from when the order got there, not from
        // when the event was read: a backlog (after an outage, say) is worked
        // off at once instead of `delay` per event.
        let due = event.occurred_at_ms.saturating_add(millis(delay));
        let wait = due.saturating_sub(now_ms());
        if wait > 0 {
            tokio::time::sleep(Duration::from_millis(wait.unsigned_abs())).await;
        }
        let mut request = tonic::Request::new(AdvanceOrderRequest {
            order_id: event.order_id.clone(),
            to: to.into(),
            cause: event.id.clone(),
            ..Default::default()
        });
        request.set_timeout(CALL_TIMEOUT);
        let moved = tokio::time::timeout(CALL_TIMEOUT, self.orders.clone().advance_order(request))
            .await
            .unwrap_or_else(|_| Err(tonic::Status::deadline_exceeded("no answer in time")));
        match moved {
            Ok(order) => {
                let order = order.into_inner();
                let moved_now = order
                    .history
                    .last()
                    .is_some_and(|last| last.state == i32::from(to));
                let outcome = if moved_now {
                    Outcome::Handled
                } else {
                    Outcome::Duplicate
                };
                tracing::info!(order_id = %event.order_id, event_id = %event.id, state = ?to, "Moved the order on.");
                self.metrics.handled(event.kind, outcome);
                Ok(())
            }
            // Already further along (a duplicate of an earlier event).
            Err(status) if status.code() == Code::FailedPrecondition => {
                self.metrics.handled(event.kind, Outcome::Duplicate);
                Ok(())
            }
            Err(status) if matches!(status.code(), Code::NotFound | Code::InvalidArgument) => {
                self.metrics.handled(event.kind, Outcome::Poison);
                Err(Handling::Poison(format!(
                    "order {}: {}",
                    event.order_id,
                    status.message()
                )))
            }
            Err(status) => {
                self.metrics.handled(event.kind, Outcome::Retried);
                Err(Handling::Retry(format!(
                    "orders service: {}",
                    status.message()
                )))
            }
        }
    }
}
