//! Keeps the health service honest about the store.
//!
//! A cart service without its store can answer nothing useful, so while the
//! store fails a ping, both the server (`""`) and `hipstershop.CartService`
//! report NOT_SERVING, and SERVING again once it answers. Status changes only
//! are reported, so `Watch` streams see transitions, not a tick every second.
//!
//! The `failedReadinessProbe` flag fails readiness on purpose: while it is on,
//! `hipstershop.CartService` (what the readiness probe asks) reports
//! NOT_SERVING and the server (`""`, what the liveness probe asks) keeps
//! reporting the store's state, so the pod leaves the Service but is not
//! restarted.

use std::{sync::Arc, time::Duration};

use boutique_flags::{Flags, names::FAILED_READINESS_PROBE};
use boutique_proto::cart_service_server::CartServiceServer;
use tonic::server::NamedService;
use tonic_health::{ServingStatus, server::HealthReporter};

use crate::{handlers::Cart, store::CartStore};

/// Pings `store` and reads the readiness flag every `interval` and reports
/// the result; never returns (the caller drops it at shutdown).
pub(crate) async fn watch_store(
    store: Arc<dyn CartStore>,
    reporter: HealthReporter,
    interval: Duration,
    flags: Flags,
) {
    let cart = <CartServiceServer<Cart> as NamedService>::NAME;
    // The server has just reported SERVING for both names.
    let mut reported = ServingStatus::Serving;
    let mut reported_ready = ServingStatus::Serving;
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let status = match store.ping().await {
            Ok(()) => ServingStatus::Serving,
            Err(error) => {
                if reported == ServingStatus::Serving {
                    tracing::warn!(error = %error, "Cart storage unreachable; reporting NOT_SERVING.");
                }
                ServingStatus::NotServing
            }
        };
        let failing_on_purpose = flags.bool(FAILED_READINESS_PROBE).await;
        let ready = if failing_on_purpose {
            ServingStatus::NotServing
        } else {
            status
        };
        if status != reported {
            if status == ServingStatus::Serving {
                tracing::info!("Cart storage reachable again; reporting SERVING.");
            }
            reporter.set_service_status("", status).await;
            reported = status;
        }
        if ready != reported_ready {
            if failing_on_purpose {
                tracing::warn!(
                    flag = FAILED_READINESS_PROBE,
                    "Failing readiness on purpose."
                );
            }
            reporter.set_service_status(cart, ready).await;
            reported_ready = ready;
        }
    }
}
