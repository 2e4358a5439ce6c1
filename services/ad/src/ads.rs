//! The ad inventory and the selection rule.
//!
//! Each ad points at a product page (`/product/{id}`, as upstream) and belongs
//! to the categories that upstream maps to that product. The texts are ours.

use boutique_proto::Ad;
use rand::{Rng, seq::IndexedRandom};

/// One ad in the inventory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdEntry {
    /// The product the ad links to.
    pub product_id: &'static str,
    /// The text shown.
    pub text: &'static str,
    /// The context key that selects it (one per product, as upstream).
    pub category: &'static str,
}

impl AdEntry {
    /// The wire form: the product page and the text.
    pub fn to_ad(self) -> Ad {
        Ad {
            redirect_url: format!("/product/{}", self.product_id),
            text: self.text.to_owned(),
        }
    }
}

/// Every ad, grouped by category in a fixed order; within a category the
/// order is the order ads are returned in.
pub const INVENTORY: [AdEntry; 7] = [
    AdEntry {
        product_id: "66VCHSJNUP",
        text: "Beat the heat: our breezy tank top is 20% off this week.",
        category: "clothing",
    },
    AdEntry {
        product_id: "1YMWWN1N4O",
        text: "Never be late again: get a spare strap free with every watch.",
        category: "accessories",
    },
    AdEntry {
        product_id: "L9ECAV7KIM",
        text: "Two pairs of loafers for the price of one, while stocks last.",
        category: "footwear",
    },
    AdEntry {
        product_id: "2ZYFJ3GM2N",
        text: "Dry in half the time for half the price: hairdryer at 50% off.",
        category: "hair",
    },
    AdEntry {
        product_id: "0PUK6V6EV0",
        text: "Cosy evenings start here: candle holder, now 30% cheaper.",
        category: "decor",
    },
    AdEntry {
        product_id: "9SIQT8TOJO",
        text: "A tidier pantry for less: bamboo glass jar, 10% off.",
        category: "kitchen",
    },
    AdEntry {
        product_id: "6E92ZMYYFZ",
        text: "Coffee round for three? Buy two mugs and the third one is on us.",
        category: "kitchen",
    },
];

/// How many ads to show when the context selects none.
pub const FALLBACK_COUNT: usize = 2;

/// The ads of one context key, matched case-insensitively after trimming;
/// empty for an unknown key.
pub fn ads_for_key(key: &str) -> impl Iterator<Item = AdEntry> + '_ {
    let key = key.trim();
    INVENTORY
        .into_iter()
        .filter(move |entry| entry.category.eq_ignore_ascii_case(key))
}

/// Each key's ads in key order; when that is nothing, [`FALLBACK_COUNT`]
/// distinct random ads. Never empty.
pub fn select_ads<S: AsRef<str>>(keys: &[S], rng: &mut impl Rng) -> Vec<AdEntry> {
    let matched: Vec<AdEntry> = keys
        .iter()
        .flat_map(|key| ads_for_key(key.as_ref()))
        .collect();
    if !matched.is_empty() {
        return matched;
    }
    // Distinct, unlike upstream, which could show the same ad twice.
    INVENTORY
        .choose_multiple(rng, FALLBACK_COUNT)
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_product_has_one_category_and_a_distinct_text() {
        for (i, a) in INVENTORY.iter().enumerate() {
            for b in &INVENTORY[i + 1..] {
                assert_ne!(a.product_id, b.product_id);
                assert_ne!(a.text, b.text);
            }
        }
    }

    #[test]
    fn fallback_is_distinct_and_never_empty() {
        let mut rng = rand::rng();
        for _ in 0..500 {
            let ads = select_ads::<&str>(&[], &mut rng);
            assert_eq!(ads.len(), FALLBACK_COUNT);
            assert_ne!(ads[0], ads[1]);
        }
    }
}
