//! Cart's own metric: items added.
//!
//! Registered once, when the service is built, into the process's registry
//! (with `service_name="cart"`). The name and help text are the catalogue's
//! (`deploy/observability/README.md`): rules and dashboards read them.

use boutique_platform::{Telemetry, telemetry::Counter};

/// Cart's metric family. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct CartMetrics {
    additions: Counter,
}

impl CartMetrics {
    /// Registers the family with `telemetry`'s registry, starting at zero so
    /// dashboards see "none yet", not "no data".
    pub(crate) fn register(telemetry: &Telemetry) -> Self {
        let additions = telemetry.metrics().counter(
            "boutique_cart_additions_total",
            "Successful AddItem calls.",
            &[],
        );
        additions.start_at_zero(&[]);
        Self { additions }
    }

    /// An item went into a cart.
    pub(crate) fn cart_item_added(&self) {
        self.additions.inc(&[]);
    }
}

#[cfg(test)]
mod tests {
    use boutique_platform::testing::sample;

    use super::*;

    #[test]
    fn counts_additions_from_zero() {
        let telemetry = Telemetry::detached("cart");
        let metrics = CartMetrics::register(&telemetry);
        let count = |text: &str| {
            sample(
                text,
                "boutique_cart_additions_total",
                &[("service_name", "cart")],
            )
        };
        assert_eq!(count(&telemetry.metrics().registry().render()), Some(0.0));
        metrics.cart_item_added();
        let text = telemetry.metrics().registry().render();
        assert_eq!(count(&text), Some(1.0));
        assert!(text.contains("# HELP boutique_cart_additions_total Successful AddItem calls."));
    }
}
