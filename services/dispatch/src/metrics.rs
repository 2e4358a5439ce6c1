//! The dispatch service's metrics: events by type and outcome, and the depths
//! of its queue and dead-letter queue, refreshed on an interval.
//!
//! The names, labels and help texts are the catalogue's
//! (`deploy/observability/README.md`): rules and dashboards read them.

use std::time::Duration;

use boutique_events::{Bus, EventKind};
use boutique_platform::{
    Telemetry,
    telemetry::{Counter, Gauge},
};
use tokio_util::sync::CancellationToken;

/// How often the queue depths are measured.
const DEPTH_INTERVAL: Duration = Duration::from_secs(5);

/// What became of an event.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome {
    /// It moved an order.
    Handled,
    /// It had been handled before: nothing changed.
    Duplicate,
    /// Not an event the warehouse acts on.
    Ignored,
    /// The orders service could not be reached: back to the queue.
    Retried,
    /// It can never be handled: to the dead-letter queue.
    Poison,
}

impl Outcome {
    const ALL: [Self; 5] = [
        Self::Handled,
        Self::Duplicate,
        Self::Ignored,
        Self::Retried,
        Self::Poison,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::Handled => "handled",
            Self::Duplicate => "duplicate",
            Self::Ignored => "ignored",
            Self::Retried => "retried",
            Self::Poison => "poison",
        }
    }
}

/// The dispatch service's metric families. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct DispatchMetrics {
    events: Counter,
    depth: Gauge,
    dead: Gauge,
}

impl DispatchMetrics {
    pub(crate) fn register(telemetry: &Telemetry) -> Self {
        let metrics = telemetry.metrics();
        let events = metrics.counter(
            "boutique_dispatch_events_total",
            "Order events the dispatch service consumed, by type and outcome.",
            &["type", "outcome"],
        );
        for kind in [EventKind::OrderShipped, EventKind::OrderDispatched] {
            for outcome in Outcome::ALL {
                events.start_at_zero(&[kind.name(), outcome.label()]);
            }
        }
        Self {
            events,
            depth: metrics.gauge(
                "boutique_events_queue_depth",
                "Order events waiting in the dispatch queue.",
                &[],
            ),
            dead: metrics.gauge(
                "boutique_events_dead_letters",
                "Order events in the dead-letter queue, waiting for a person.",
                &[],
            ),
        }
    }

    pub(crate) fn handled(&self, kind: EventKind, outcome: Outcome) {
        self.events.inc(&[kind.name(), outcome.label()]);
    }
}

/// Measures the queues until `stop`.
pub(crate) async fn watch(bus: Bus, metrics: DispatchMetrics, stop: CancellationToken) {
    loop {
        match bus.depths().await {
            Ok(depths) => {
                metrics.depth.set(&[], depths.ready as f64);
                metrics.dead.set(&[], depths.dead as f64);
            }
            Err(error) => tracing::debug!(%error, "Could not measure the event queues."),
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(DEPTH_INTERVAL) => {}
        }
    }
}
