//! Entry points for the fuzz targets (`fuzz/`, feature `fuzzing`): the
//! service's handler as `build` serves it, minus the network, for calls in
//! process. Not part of the crate's API.

use std::sync::Arc;

use boutique_flags::Flags;
use boutique_platform::Telemetry;
use boutique_proto::cart_service_server::CartService;

use crate::{DEFAULT_TTL, MemoryStore};

/// The handler over an empty store in memory, with no flag source.
pub fn service() -> impl CartService {
    crate::handlers::Cart::new(
        Arc::new(MemoryStore::new(Some(DEFAULT_TTL))),
        crate::metrics::CartMetrics::register(&Telemetry::detached("cart")),
        Flags::off(),
    )
}
