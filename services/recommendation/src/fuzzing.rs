//! Entry points for the fuzz targets (`fuzz/`, feature `fuzzing`): the pick
//! ListRecommendations makes once it has the catalog's ids (getting them is a
//! call to the catalog service). Not part of the crate's API.

use crate::MAX_RECOMMENDATIONS;

/// Up to [`MAX_RECOMMENDATIONS`] of `catalog_ids`, none of `exclude`.
pub fn recommend(catalog_ids: &[String], exclude: &[String]) -> Vec<String> {
    crate::pick::recommend(
        &mut rand::rng(),
        catalog_ids.iter().cloned(),
        exclude,
        MAX_RECOMMENDATIONS,
    )
}
