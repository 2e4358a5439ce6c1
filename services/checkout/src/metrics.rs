//! Checkout's own metrics: orders placed, their revenue, and failed
//! PlaceOrder calls by the step that failed.
//!
//! Registered once, when the service is built, into the process's registry
//! (with `service_name="checkout"`). The names, labels and help texts are the
//! catalogue's (`deploy/observability/README.md`): rules and dashboards read
//! them. The `stage` label takes the closed set [`CheckoutStage`]; `currency`
//! only codes the currency service accepted.

use boutique_platform::{
    Telemetry,
    telemetry::{Counter, Sum},
};

/// The step of PlaceOrder that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CheckoutStage {
    /// The request itself was invalid.
    Validation,
    /// Reading or emptying the cart.
    Cart,
    /// Looking up products.
    Catalog,
    /// Converting prices.
    Currency,
    /// Quoting shipping.
    Quote,
    /// Charging the card.
    Payment,
    /// Shipping the order.
    Shipping,
    /// Recording the order.
    Store,
}

impl CheckoutStage {
    /// Every stage.
    const ALL: [Self; 8] = [
        Self::Validation,
        Self::Cart,
        Self::Catalog,
        Self::Currency,
        Self::Quote,
        Self::Payment,
        Self::Shipping,
        Self::Store,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::Validation => "validation",
            Self::Cart => "cart",
            Self::Catalog => "catalog",
            Self::Currency => "currency",
            Self::Quote => "quote",
            Self::Payment => "payment",
            Self::Shipping => "shipping",
            Self::Store => "store",
        }
    }
}

/// Checkout's metric families. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct CheckoutMetrics {
    orders_placed: Counter,
    order_revenue: Sum,
    failures: Counter,
}

impl CheckoutMetrics {
    /// Registers the families with `telemetry`'s registry; every stage's
    /// failure count starts at zero, so alerts see "none yet", not "no data".
    pub(crate) fn register(telemetry: &Telemetry) -> Self {
        let metrics = telemetry.metrics();
        let failures = metrics.counter(
            "boutique_checkout_failures_total",
            "PlaceOrder calls that failed, by the step that failed.",
            &["stage"],
        );
        for stage in CheckoutStage::ALL {
            failures.start_at_zero(&[stage.label()]);
        }
        Self {
            orders_placed: metrics.counter(
                "boutique_orders_placed_total",
                "Orders placed, by the shopper's currency.",
                &["currency"],
            ),
            order_revenue: metrics.sum(
                "boutique_order_revenue_total",
                "Order totals (items and shipping) in units of the shopper's currency.",
                &["currency"],
            ),
            failures,
        }
    }

    /// An order was placed for `amount` units of `currency`.
    pub(crate) fn order_placed(&self, currency: &str, amount: f64) {
        self.orders_placed.inc(&[currency]);
        self.order_revenue.add(&[currency], amount);
    }

    /// PlaceOrder failed at `stage`.
    pub(crate) fn checkout_failed(&self, stage: CheckoutStage) {
        self.failures.inc(&[stage.label()]);
    }
}

#[cfg(test)]
mod tests {
    use boutique_platform::testing::sample;

    use super::*;

    #[test]
    fn records_under_the_catalogue_names_with_every_stage_from_zero() {
        let telemetry = Telemetry::detached("checkout");
        let metrics = CheckoutMetrics::register(&telemetry);
        metrics.order_placed("EUR", 12.5);
        metrics.checkout_failed(CheckoutStage::Payment);
        let text = telemetry.metrics().registry().render();
        let eur = [("service_name", "checkout"), ("currency", "EUR")];
        assert_eq!(
            sample(&text, "boutique_orders_placed_total", &eur),
            Some(1.0)
        );
        assert_eq!(
            sample(&text, "boutique_order_revenue_total", &eur),
            Some(12.5)
        );
        for stage in CheckoutStage::ALL {
            let labels = [("service_name", "checkout"), ("stage", stage.label())];
            let expected = if stage == CheckoutStage::Payment {
                1.0
            } else {
                0.0
            };
            let count = sample(&text, "boutique_checkout_failures_total", &labels);
            assert_eq!(count, Some(expected), "{stage:?}");
        }
        assert!(text.contains(
            "# HELP boutique_checkout_failures_total PlaceOrder calls that failed, by the step that failed."
        ));
    }
}
