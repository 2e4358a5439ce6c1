//! A short-lived cache of the catalog's product ids.
//!
//! Every `ListRecommendations` needs the whole catalog, and the catalog
//! changes rarely (it is read from a file at its start), so asking for all of
//! it on every call made each recommendation cost a second round trip that
//! carries every product. The ids are kept in a platform [`TtlCache`] for
//! `CACHE_TTL`, counted from when the call that fetched them started, so an
//! answer is never older than that; a failed call is never stored, so an
//! outage is seen by the next request once the last good answer expires; when
//! the ids expire under load, one catalog call refreshes them for every
//! waiting request. A zero TTL asks every time, as upstream.

use std::{sync::Arc, time::Duration};

use boutique_platform::cache::TtlCache;

pub use boutique_platform::cache::DEFAULT_TTL;

/// The catalog's ids (one entry).
pub(crate) type CatalogCache = TtlCache<(), Arc<Vec<String>>>;

/// An empty cache keeping the ids for `ttl` (zero: never stored).
pub(crate) fn catalog_cache(ttl: Duration) -> CatalogCache {
    TtlCache::new(ttl, 1)
}
