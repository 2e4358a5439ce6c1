//! Entry points for the fuzz targets (`fuzz/`, feature `fuzzing`): the
//! service's handler as `build` serves it, minus the network, for calls in
//! process. Not part of the crate's API.

use std::sync::Arc;

use boutique_proto::currency_service_server::CurrencyService;

use crate::Rates;

/// The handler over `rates` (e.g. [`Rates::builtin`]).
pub fn service(rates: Rates) -> impl CurrencyService {
    crate::handlers::Currency::new(Arc::new(rates))
}
