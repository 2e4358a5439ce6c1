//! Payment's own metric: charges refused, by reason.
//!
//! Registered once, when the service is built, into the process's registry
//! (with `service_name="payment"`). The name, labels and help text are the
//! catalogue's (`deploy/observability/README.md`): rules and dashboards read
//! them. The `reason` label takes the closed set [`DeclineReason`].

use boutique_platform::{Telemetry, telemetry::Counter};

/// Why a card was declined, as the payment service counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeclineReason {
    /// The number is not a card number (checksum, length, brand).
    InvalidCard,
    /// A valid card of a brand we do not take.
    CardTypeNotAccepted,
    /// The card expired.
    CardExpired,
    /// Anything else wrong with the request (amount, CVV, month...).
    InvalidRequest,
}

impl DeclineReason {
    /// Every reason.
    const ALL: [Self; 4] = [
        Self::InvalidCard,
        Self::CardTypeNotAccepted,
        Self::CardExpired,
        Self::InvalidRequest,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::InvalidCard => "invalid_card",
            Self::CardTypeNotAccepted => "card_type_not_accepted",
            Self::CardExpired => "card_expired",
            Self::InvalidRequest => "invalid_request",
        }
    }
}

/// Payment's metric families. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct PaymentMetrics {
    declines: Counter,
}

impl PaymentMetrics {
    /// Registers the family with `telemetry`'s registry; every reason's count
    /// starts at zero, so alerts see "none yet", not "no data".
    pub(crate) fn register(telemetry: &Telemetry) -> Self {
        let declines = telemetry.metrics().counter(
            "boutique_payment_declines_total",
            "Charges refused, by reason.",
            &["reason"],
        );
        for reason in DeclineReason::ALL {
            declines.start_at_zero(&[reason.label()]);
        }
        Self { declines }
    }

    /// A charge was declined.
    pub(crate) fn payment_declined(&self, reason: DeclineReason) {
        self.declines.inc(&[reason.label()]);
    }
}

#[cfg(test)]
mod tests {
    use boutique_platform::testing::sample;

    use super::*;

    #[test]
    fn counts_declines_by_reason_with_every_reason_from_zero() {
        let telemetry = Telemetry::detached("payment");
        let metrics = PaymentMetrics::register(&telemetry);
        metrics.payment_declined(DeclineReason::CardExpired);
        let text = telemetry.metrics().registry().render();
        for reason in DeclineReason::ALL {
            let labels = [("service_name", "payment"), ("reason", reason.label())];
            let expected = if reason == DeclineReason::CardExpired {
                1.0
            } else {
                0.0
            };
            let count = sample(&text, "boutique_payment_declines_total", &labels);
            assert_eq!(count, Some(expected), "{reason:?}");
        }
        assert!(
            text.contains("# HELP boutique_payment_declines_total Charges refused, by reason.")
        );
    }
}
