//! Entry points for the fuzz targets (`fuzz/`, feature `fuzzing`): the
//! service's handler as `build` serves it, minus the network, for calls in
//! process. Not part of the crate's API.

use std::{sync::Arc, time::Duration};

use boutique_flags::Flags;
use boutique_platform::Telemetry;
use boutique_proto::{
    boutique::payment::v1::payment_ledger_server::PaymentLedger,
    payment_service_server::PaymentService,
};

use crate::{MemoryLedger, SystemClock};

/// The handler with a ledger in memory (both services: `Charge` and
/// `SettleCharge`), the system clock and no flag source.
pub fn service() -> impl PaymentService + PaymentLedger {
    crate::handlers::Payment {
        clock: Arc::new(SystemClock),
        metrics: crate::metrics::PaymentMetrics::register(&Telemetry::detached("payment")),
        ledger: Arc::new(MemoryLedger::new()),
        extra_latency: Duration::ZERO,
        flags: Flags::off(),
    }
}
