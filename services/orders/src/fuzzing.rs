//! Entry points for the fuzz targets (`fuzz/`, feature `fuzzing`): the
//! service's handler as `build` serves it, minus the network, for calls in
//! process. Not part of the crate's API.

use std::sync::Arc;

use boutique_platform::Telemetry;
use boutique_proto::boutique::orders::v1::order_service_server::OrderService;
use tokio::sync::Notify;

/// The handler over an order book in an in-memory SQLite database (no event
/// relay: the outbox only fills). Call inside a Tokio runtime.
pub async fn service() -> Result<impl OrderService, boutique_platform::ServerError> {
    Ok(crate::handlers::Orders {
        book: crate::open(&boutique_store::StoreConfig::memory()).await?,
        metrics: crate::metrics::OrdersMetrics::register(&Telemetry::detached("orders")),
        relay: Arc::new(Notify::new()),
    })
}
