//! Entry points for the fuzz targets (`fuzz/`, feature `fuzzing`): the
//! service's handler as `build` serves it, minus the network, for calls in
//! process. Not part of the crate's API.

use boutique_flags::Flags;
use boutique_proto::ad_service_server::AdService;

/// The handler, with no flag source.
pub fn service() -> impl AdService {
    crate::handlers::Ads {
        flags: Flags::off(),
    }
}
