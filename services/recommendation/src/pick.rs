//! The recommendation rule: a random few of the products the shopper is not
//! already looking at.

use std::collections::HashSet;

use rand::{Rng, seq::SliceRandom};

/// How many products a recommendation holds at most (upstream's number).
pub const MAX_RECOMMENDATIONS: usize = 5;

/// Picks up to `max` distinct ids from `catalog_ids`, leaving out `exclude`,
/// in random order. Duplicate and empty catalog ids are ignored, so the answer
/// never repeats an id even if the catalog does.
pub(crate) fn recommend<R: Rng + ?Sized>(
    rng: &mut R,
    catalog_ids: impl IntoIterator<Item = String>,
    exclude: &[String],
    max: usize,
) -> Vec<String> {
    let excluded: HashSet<&str> = exclude.iter().map(String::as_str).collect();
    let mut seen = HashSet::new();
    let mut candidates: Vec<String> = catalog_ids
        .into_iter()
        .filter(|id| !id.is_empty() && !excluded.contains(id.as_str()))
        .filter(|id| seen.insert(id.clone()))
        .collect();
    // A partial Fisher-Yates shuffle: a uniform sample, itself in random order.
    let (chosen, _) = candidates.partial_shuffle(rng, max);
    chosen.to_vec()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use rand::{SeedableRng, rngs::StdRng};

    use super::*;

    fn ids(names: &[&str]) -> Vec<String> {
        names.iter().map(|&n| n.to_owned()).collect()
    }

    const NINE: [&str; 9] = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];

    #[test]
    fn leaves_out_requested_ids_and_caps_the_count() {
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..200 {
            let picked = recommend(&mut rng, ids(&NINE), &ids(&["a", "b", "zz"]), 5);
            assert_eq!(picked.len(), 5);
            assert!(
                !picked.iter().any(|id| id == "a" || id == "b"),
                "{picked:?}"
            );
            let distinct: HashSet<&String> = picked.iter().collect();
            assert_eq!(distinct.len(), picked.len(), "{picked:?}");
        }
    }

    #[test]
    fn returns_fewer_when_few_remain() {
        let mut rng = StdRng::seed_from_u64(1);
        let picked = recommend(&mut rng, ids(&NINE), &ids(&NINE[..8]), 5);
        assert_eq!(picked, ["i"]);
        assert!(recommend(&mut rng, ids(&NINE), &ids(&NINE), 5).is_empty());
        assert!(recommend(&mut rng, Vec::new(), &[], 5).is_empty());
    }

    #[test]
    fn ignores_duplicate_and_empty_catalog_ids() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut picked = recommend(&mut rng, ids(&["x", "x", "", "y", "y"]), &[], 5);
        picked.sort();
        assert_eq!(picked, ["x", "y"]);
    }

    #[test]
    fn samples_every_product_in_varying_order() {
        let mut rng = StdRng::seed_from_u64(42);
        let mut seen = HashSet::new();
        let mut first_ids = HashSet::new();
        for _ in 0..200 {
            let picked = recommend(&mut rng, ids(&NINE), &[], 5);
            first_ids.insert(picked[0].clone());
            seen.extend(picked);
        }
        // Not always the same five, and not always in catalog order.
        assert_eq!(seen.len(), NINE.len());
        assert_eq!(first_ids.len(), NINE.len());
    }
}
