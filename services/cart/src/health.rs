//! Keeps the health service honest about the store.
//!
//! A cart service without its store can answer nothing useful, so while the
//! store fails a ping, both the server (`""`) and `hipstershop.CartService`
//! report NOT_SERVING, and SERVING again once it answers. Status changes only
//! are reported, so `Watch` streams see transitions, not a tick every second.

use std::{sync::Arc, time::Duration};

use boutique_proto::cart_service_server::CartServiceServer;
use tonic::server::NamedService;
use tonic_health::{ServingStatus, server::HealthReporter};

use crate::{handlers::Cart, store::CartStore};

/// Pings `store` every `interval` and reports the result; never returns (the
/// caller drops it at shutdown).
pub(crate) async fn watch_store(
    store: Arc<dyn CartStore>,
    reporter: HealthReporter,
    interval: Duration,
) {
    let names = ["", <CartServiceServer<Cart> as NamedService>::NAME];
    // The server has just reported SERVING for both names.
    let mut reported = ServingStatus::Serving;
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
        if status != reported {
            if status == ServingStatus::Serving {
                tracing::info!("Cart storage reachable again; reporting SERVING.");
            }
            for name in names {
                reporter.set_service_status(name, status).await;
            }
            reported = status;
        }
    }
}
