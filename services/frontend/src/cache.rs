//! Short-lived caches of backend answers that rarely change: the currency
//! list, the product catalog, price conversions, and each product's ratings
//! summary and newest reviews.
//!
//! A page's cost is dominated by its loopback gRPC round trips (the profile in
//! `scripts/bench/NOTES.md`: h2, malloc and the kernel's loopback path, with
//! no single hot spot), and most of those calls ask the same question on every
//! page. Reusing an answer for a few seconds removes them while the backends
//! stay the authority: nothing is computed here that a backend did not say.
//!
//! Each cache is a platform [`TtlCache`], so they keep its rules: fresh for the
//! TTL from when the fetch started, failures never stored, a zero TTL stores
//! nothing (every request asks the backend, as before caching, e.g. for
//! `EXTRA_LATENCY` demos), at most a bounded number of entries, and one
//! backend call per expired answer however many pages wait for it.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use boutique_money::Money;
use boutique_platform::cache::TtlCache;
use boutique_proto::boutique::ratings::v1::{ListRatingsResponse, RatingSummary};

pub(crate) use boutique_platform::cache::DEFAULT_TTL;

/// How many conversions are kept at most. Prices come from the catalog and
/// shipping, so the working set is about (products + quotes) × offered
/// currencies, far below this; the bound only stops a pathological catalog
/// (or a bug) from growing the map without limit.
pub(crate) const MAX_CONVERSIONS: u64 = 1024;

/// How many products' ratings are kept at most (the catalog has nine; the
/// bound only stops a pathological catalog from growing the maps).
pub(crate) const MAX_RATED_PRODUCTS: u64 = 1024;

/// The frontend's caches, one per kind of answer.
#[derive(Debug)]
pub(crate) struct Caches {
    /// `GetSupportedCurrencies`, in the currency service's order.
    pub(crate) currencies: TtlCache<(), Arc<Vec<String>>>,
    /// `ListProducts`; `GetProduct` is answered from it when it holds the id.
    pub(crate) catalog: TtlCache<(), Arc<Vec<boutique_proto::Product>>>,
    /// `Convert`, by (amount, target currency code).
    pub(crate) conversions: TtlCache<(Money, String), Money>,
    /// The last currency list the service gave, for pages while it is away.
    pub(crate) last_currencies: Mutex<Option<Arc<Vec<String>>>>,
    /// A product's `GetSummaries` answer, by product id. A rating written
    /// through this process forgets its product's entry at once (another
    /// replica's write shows within the TTL).
    pub(crate) rating_summaries: TtlCache<String, RatingSummary>,
    /// The first page of a product's reviews (`ListRatings` without a
    /// token), by product id and page size; forgotten like the summary.
    pub(crate) newest_reviews: TtlCache<(String, u32), Arc<ListRatingsResponse>>,
}

impl Caches {
    /// Empty caches keeping answers for `ttl` (zero: no caching).
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            currencies: TtlCache::new(ttl, 1),
            catalog: TtlCache::new(ttl, 1),
            conversions: TtlCache::new(ttl, MAX_CONVERSIONS),
            last_currencies: Mutex::new(None),
            rating_summaries: TtlCache::new(ttl, MAX_RATED_PRODUCTS),
            newest_reviews: TtlCache::new(ttl, MAX_RATED_PRODUCTS),
        }
    }

    /// True when answers are kept at all.
    pub(crate) fn enabled(&self) -> bool {
        self.catalog.enabled()
    }
}
