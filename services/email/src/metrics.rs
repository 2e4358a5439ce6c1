//! Email's own metrics: confirmations sent and failed.
//!
//! Registered once, when the service is built, into the process's registry
//! (with `service_name="email"`). The names and help texts are the
//! catalogue's (`deploy/observability/README.md`): rules and dashboards read
//! them.

use boutique_platform::{Telemetry, telemetry::Counter};

/// Email's metric families. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct EmailMetrics {
    sent: Counter,
    failed: Counter,
}

impl EmailMetrics {
    /// Registers the families with `telemetry`'s registry, starting at zero
    /// so alerts see "none yet", not "no data".
    pub(crate) fn register(telemetry: &Telemetry) -> Self {
        let metrics = telemetry.metrics();
        let sent = metrics.counter(
            "boutique_emails_sent_total",
            "Order confirmations handed to the mail server (or logged in dry-run mode).",
            &[],
        );
        let failed = metrics.counter(
            "boutique_emails_failed_total",
            "Order confirmations that could not be sent.",
            &[],
        );
        sent.start_at_zero(&[]);
        failed.start_at_zero(&[]);
        Self { sent, failed }
    }

    /// A confirmation email went out.
    pub(crate) fn email_sent(&self) {
        self.sent.inc(&[]);
    }

    /// A confirmation email could not be sent.
    pub(crate) fn email_failed(&self) {
        self.failed.inc(&[]);
    }
}

#[cfg(test)]
mod tests {
    use boutique_platform::testing::sample;

    use super::*;

    #[test]
    fn counts_sent_and_failed_confirmations_from_zero() {
        let telemetry = Telemetry::detached("email");
        let metrics = EmailMetrics::register(&telemetry);
        metrics.email_failed();
        let text = telemetry.metrics().registry().render();
        let email = [("service_name", "email")];
        assert_eq!(
            sample(&text, "boutique_emails_sent_total", &email),
            Some(0.0)
        );
        assert_eq!(
            sample(&text, "boutique_emails_failed_total", &email),
            Some(1.0)
        );
        assert!(text.contains(
            "# HELP boutique_emails_sent_total Order confirmations handed to the mail server (or logged in dry-run mode)."
        ));
    }
}
