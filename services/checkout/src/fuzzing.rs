//! Entry points for the fuzz targets (`fuzz/`, feature `fuzzing`): what
//! PlaceOrder checks before it asks another service (the rest of the handler
//! is calls to seven services). Not part of the crate's API.

use boutique_proto::PlaceOrderRequest;
use tonic::{Status, metadata::MetadataMap};

/// PlaceOrder's checks, in the handler's order: the `idempotency-key`
/// metadata, then the request. The key, or the refusal.
pub fn check(request: PlaceOrderRequest, metadata: &MetadataMap) -> Result<Option<String>, Status> {
    let key = crate::handlers::idempotency_key(metadata)?;
    crate::validate::validate(request)?;
    Ok(key)
}

/// The last four digits of a card number, as logs and orders show it
/// (`None` for fewer than 12 digits).
pub fn last_four(number: &str) -> Option<String> {
    crate::validate::last_four(number)
}
