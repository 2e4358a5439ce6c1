//! Keeps readiness honest about the store.
//!
//! A cart service without its store can answer nothing useful, so while the
//! store fails a ping it reports NOT_SERVING through the platform's readiness
//! hook: the server (`""`), `hipstershop.CartService` and, with a shared
//! port, `process/<pid>` alike; SERVING again once it answers. Liveness
//! (`liveness`) is never touched, so a store outage takes the pod out of its
//! Service without restarting it.
//!
//! The `failedReadinessProbe` flag fails readiness on purpose in the same
//! way, as a check of its own: the pod leaves the Service but is not
//! restarted.

use std::{sync::Arc, time::Duration};

use boutique_flags::{Flags, names::FAILED_READINESS_PROBE};
use boutique_platform::readiness::Readiness;

use crate::store::CartStore;

/// The readiness check of the store.
const STORE_CHECK: &str = "cart store";

/// Pings `store` and reads the readiness flag every `interval` and reports
/// both to `readiness`; never returns (the caller drops it at shutdown).
pub(crate) async fn watch_store(
    store: Arc<dyn CartStore>,
    readiness: Readiness,
    interval: Duration,
    flags: Flags,
) {
    let mut store_was_up = true;
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let store_up = match store.ping().await {
            Ok(()) => true,
            Err(error) => {
                // Readiness logs the change; this says why, once per outage.
                if store_was_up {
                    tracing::warn!(error = %error, "Cart storage unreachable.");
                }
                false
            }
        };
        store_was_up = store_up;
        readiness.report(STORE_CHECK, store_up).await;
        let failing_on_purpose = flags.bool(FAILED_READINESS_PROBE).await;
        readiness
            .report(FAILED_READINESS_PROBE, !failing_on_purpose)
            .await;
    }
}
