//! The orders service's metrics: moves by target state, and the levels
//! alerts watch (the outbox backlog and its age, orders stuck in an
//! intermediate state), refreshed by [`watch`] on an interval.
//!
//! The names, labels and help texts are the catalogue's
//! (`deploy/observability/README.md`): rules and dashboards read them.

use std::time::Duration;

use boutique_platform::clock::now_ms;

use boutique_platform::{
    Telemetry,
    telemetry::{Counter, Gauge},
};
use boutique_store::{OrderBook, orders::OrderState};
use tokio_util::sync::CancellationToken;

/// The orders service's metric families. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct OrdersMetrics {
    transitions: Counter,
    backlog: Gauge,
    oldest: Gauge,
    stuck: Gauge,
}

impl OrdersMetrics {
    /// Registers the families; every state starts at zero.
    pub(crate) fn register(telemetry: &Telemetry) -> Self {
        let metrics = telemetry.metrics();
        let transitions = metrics.counter(
            "boutique_orders_transitions_total",
            "Orders that reached a state, by state.",
            &["to"],
        );
        let stuck = metrics.gauge(
            "boutique_orders_stuck",
            "Orders in an intermediate state (created, charged, payment_uncertain) for longer than the reconcile interval.",
            &["state"],
        );
        for state in OrderState::ALL {
            transitions.start_at_zero(&[state.as_str()]);
        }
        for state in OrderState::INTERMEDIATE {
            stuck.set(&[state.as_str()], 0.0);
        }
        Self {
            transitions,
            backlog: metrics.gauge(
                "boutique_orders_outbox_backlog",
                "Order events written to the outbox and not yet published.",
                &[],
            ),
            oldest: metrics.gauge(
                "boutique_orders_outbox_oldest_age_seconds",
                "Age of the oldest unpublished order event (0 when none waits).",
                &[],
            ),
            stuck,
        }
    }

    /// Counts an order reaching `state`.
    pub(crate) fn moved(&self, state: OrderState) {
        self.transitions.inc(&[state.as_str()]);
    }
}

/// Refreshes the gauges every `every` until `stop`: orders unchanged in an
/// intermediate state for `stuck_after` count as stuck.
pub(crate) async fn watch(
    book: OrderBook,
    metrics: OrdersMetrics,
    every: Duration,
    stuck_after: Duration,
    stop: CancellationToken,
) {
    let stuck_after_ms = i64::try_from(stuck_after.as_millis()).unwrap_or(i64::MAX);
    loop {
        match book.outbox_backlog().await {
            Ok(backlog) => {
                metrics.backlog.set(&[], backlog.events as f64);
                let age_ms = backlog
                    .oldest_at_ms
                    .map_or(0, |at| now_ms().saturating_sub(at).max(0));
                metrics.oldest.set(&[], age_ms as f64 / 1000.0);
            }
            Err(error) => tracing::warn!(%error, "Could not measure the outbox."),
        }
        match book.stuck(stuck_after_ms).await {
            Ok(counts) => {
                for (state, n) in counts {
                    metrics.stuck.set(&[state.as_str()], n as f64);
                }
            }
            Err(error) => tracing::warn!(%error, "Could not count stuck orders."),
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}
