//! The ratings service's metrics: ratings written, by what the write did,
//! and writes refused by the per-account limit.
//!
//! The names, labels and help texts are the catalogue's
//! (`deploy/observability/README.md`): rules and dashboards read them.

use boutique_platform::{Telemetry, telemetry::Counter};

/// What a write did to a rating (the `action` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// A new rating.
    Put,
    /// An account's rating replaced.
    Update,
    /// A rating deleted.
    Delete,
}

impl Action {
    const ALL: [Self; 3] = [Self::Put, Self::Update, Self::Delete];

    fn as_str(self) -> &'static str {
        match self {
            Self::Put => "put",
            Self::Update => "update",
            Self::Delete => "delete",
        }
    }
}

/// The ratings service's metric families. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct RatingsMetrics {
    written: Counter,
    rate_limited: Counter,
}

impl RatingsMetrics {
    /// Registers the families; every action starts at zero.
    pub(crate) fn register(telemetry: &Telemetry) -> Self {
        let metrics = telemetry.metrics();
        let written = metrics.counter(
            "boutique_ratings_written_total",
            "Ratings written, by action: put (new), update (replaced), delete.",
            &["action"],
        );
        for action in Action::ALL {
            written.start_at_zero(&[action.as_str()]);
        }
        let rate_limited = metrics.counter(
            "boutique_ratings_rate_limited_total",
            "Rating writes refused because the account wrote too often.",
            &[],
        );
        rate_limited.start_at_zero(&[]);
        Self {
            written,
            rate_limited,
        }
    }

    /// Counts a write that was stored.
    pub(crate) fn written(&self, action: Action) {
        self.written.inc(&[action.as_str()]);
    }

    /// Counts a write refused by the limit.
    pub(crate) fn rate_limited(&self) {
        self.rate_limited.inc(&[]);
    }
}
