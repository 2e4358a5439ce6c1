//! Entry points for the fuzz targets (`fuzz/`, feature `fuzzing`): the
//! service's handler as `build` serves it, minus the network, for calls in
//! process. Not part of the crate's API.

use boutique_proto::shipping_service_server::ShippingService;

/// The handler.
pub fn service() -> impl ShippingService {
    crate::handlers::Shipping
}
