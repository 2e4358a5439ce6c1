//! Entry points for the fuzz targets (`fuzz/`, feature `fuzzing`): the checks
//! each RPC makes before it asks the store or another service (the handler
//! needs a database and the catalog and orders services, so only these run
//! in process). Not part of the crate's API.

use boutique_proto::boutique::ratings::v1::{
    GetSummariesRequest, ListRatingsRequest, PutRatingRequest,
};
use tonic::Status;

use crate::validate;

/// PutRating's checks: the stars, or the refusal.
pub fn put(request: &PutRatingRequest) -> Result<u8, Status> {
    Ok(validate::put(request)?)
}

/// GetRating's and DeleteRating's checks.
pub fn key(account_id: &str, product_id: &str) -> Result<(), Status> {
    Ok(validate::key(account_id, product_id)?)
}

/// ListRatings' checks: the page size and where the page starts.
pub fn list(request: &ListRatingsRequest) -> Result<(u32, Option<(i64, String)>), Status> {
    Ok(validate::list(request)?)
}

/// GetSummaries' checks.
pub fn summaries(request: &GetSummariesRequest) -> Result<(), Status> {
    Ok(validate::summary_ids(&request.product_ids)?)
}

/// The page token ListRatings gives out for the position after a rating.
pub fn page_token(product_id: &str, updated_at_ms: i64, account_id: &str) -> String {
    validate::page_token(product_id, updated_at_ms, account_id)
}
