//! Entry points for the fuzz targets (`fuzz/`, feature `fuzzing`): the
//! service's handler as `build` serves it, minus the network, for calls in
//! process. Not part of the crate's API.

use std::time::Duration;

use boutique_flags::Flags;
use boutique_proto::product_catalog_service_server::ProductCatalogService;

/// The handler over the embedded catalog, with no latency and no flag source.
pub fn service() -> impl ProductCatalogService {
    crate::handlers::CatalogService {
        catalog: crate::embedded_catalog(),
        extra_latency: Duration::ZERO,
        flags: Flags::off(),
    }
}
