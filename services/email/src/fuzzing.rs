//! Entry points for the fuzz targets (`fuzz/`, feature `fuzzing`): the
//! service's handler as `build` serves it, minus the network, for calls in
//! process. Not part of the crate's API.

use boutique_flags::{Flags, leak::Leak};
use boutique_platform::Telemetry;
use boutique_proto::email_service_server::EmailService;

/// The handler that logs confirmations (no SMTP relay), with no flag source.
pub fn service() -> impl EmailService {
    crate::handlers::Email {
        delivery: crate::delivery::Delivery::LogOnly,
        metrics: crate::metrics::EmailMetrics::register(&Telemetry::detached("email")),
        flags: Flags::off(),
        leak: Leak::with_cap(crate::LEAK_CAP),
    }
}
