//! Short-lived caches of backend answers that rarely change: the currency
//! list, the product catalog and price conversions.
//!
//! A page's cost is dominated by its loopback gRPC round trips (the profile in
//! `scripts/bench/NOTES.md`: h2, malloc and the kernel's loopback path, with
//! no single hot spot), and most of those calls ask the same question on every
//! page. Reusing an answer for a few seconds removes them while the backends
//! stay the authority: nothing is computed here that a backend did not say.
//!
//! The rules every cache here keeps:
//! - an entry is fresh for the TTL counted from when the call that fetched it
//!   *started*, so nothing is served later than TTL after the backend could
//!   have said otherwise;
//! - only answers are stored, never failures: an outage is seen (and retried)
//!   by the very next request;
//! - a zero TTL stores nothing, so every request asks the backend (the
//!   behaviour before caching, e.g. for `EXTRA_LATENCY` demos);
//! - a map holds at most its capacity, so no caller can grow it without bound.
//!
//! Time is tokio's clock, so tests can pause and advance it.

use std::{
    collections::HashMap,
    future::Future,
    hash::Hash,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use tokio::time::Instant;

/// Locks a cache's state. A panic while holding the lock cannot leave an
/// entry half-written (every update is one assignment), so a poisoned lock is
/// still safe to use.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One cached value (e.g. the whole catalog), shared as an `Arc` so a hit
/// costs no copy.
#[derive(Debug)]
pub(crate) struct TtlCell<T> {
    ttl: Duration,
    /// The value and the instant it stops being fresh.
    slot: Mutex<Option<(Instant, Arc<T>)>>,
}

impl<T> TtlCell<T> {
    /// An empty cell whose values stay fresh for `ttl` (zero: never stored).
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            slot: Mutex::new(None),
        }
    }

    /// The value, if one is fresh.
    pub(crate) fn get(&self) -> Option<Arc<T>> {
        let slot = lock(&self.slot);
        slot.as_ref()
            .filter(|(expires, _)| Instant::now() < *expires)
            .map(|(_, value)| Arc::clone(value))
    }

    /// The fresh value, or the result of `fetch`, stored only if it succeeded.
    /// Concurrent misses each fetch (no request waits on another's call, so a
    /// slow backend never queues pages behind one call); the freshest result wins.
    pub(crate) async fn get_or_try<E, F, Fut>(&self, fetch: F) -> Result<Arc<T>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        if let Some(value) = self.get() {
            return Ok(value);
        }
        let started = Instant::now();
        let value = Arc::new(fetch().await?);
        if !self.ttl.is_zero() {
            let expires = started + self.ttl;
            let mut slot = lock(&self.slot);
            if slot.as_ref().is_none_or(|(current, _)| *current < expires) {
                *slot = Some((expires, Arc::clone(&value)));
            }
        }
        Ok(value)
    }
}

/// Values by key (e.g. conversions by amount and target currency), at most
/// `capacity` of them.
#[derive(Debug)]
pub(crate) struct TtlMap<K, V> {
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlMap<K, V> {
    /// An empty map whose entries stay fresh for `ttl` (zero: never stored),
    /// holding at most `capacity` entries.
    pub(crate) fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The value for `key`, if one is fresh.
    pub(crate) fn get(&self, key: &K) -> Option<V> {
        let entries = lock(&self.entries);
        entries
            .get(key)
            .filter(|(expires, _)| Instant::now() < *expires)
            .map(|(_, value)| value.clone())
    }

    /// How many entries are held, fresh or not.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        lock(&self.entries).len()
    }

    /// Stores a value fetched by a call that started at `started`. When the
    /// map is full, expired entries go first, then the one closest to expiry.
    fn insert(&self, key: K, value: V, started: Instant) {
        if self.ttl.is_zero() || self.capacity == 0 {
            return;
        }
        let expires = started + self.ttl;
        let mut entries = lock(&self.entries);
        if !entries.contains_key(&key) && entries.len() >= self.capacity {
            let now = Instant::now();
            entries.retain(|_, (expires, _)| now < *expires);
            if entries.len() >= self.capacity {
                // Only reached when every entry is fresh and distinct: a scan
                // of a bounded map, rarer than the calls it saves.
                let oldest = entries
                    .iter()
                    .min_by_key(|(_, (expires, _))| *expires)
                    .map(|(key, _)| key.clone());
                if let Some(oldest) = oldest {
                    entries.remove(&oldest);
                }
            }
        }
        entries.insert(key, (expires, value));
    }

    /// The fresh value for `key`, or the result of `fetch`, stored only if it
    /// succeeded.
    pub(crate) async fn get_or_try<E, F, Fut>(&self, key: K, fetch: F) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        if let Some(value) = self.get(&key) {
            return Ok(value);
        }
        let started = Instant::now();
        let value = fetch().await?;
        self.insert(key, value.clone(), started);
        Ok(value)
    }
}

/// How long answers are reused unless `CACHE_TTL` says otherwise.
pub(crate) const DEFAULT_TTL: Duration = Duration::from_secs(5);

/// How many conversions are kept at most. Prices come from the catalog and
/// shipping, so the working set is about (products + quotes) × offered
/// currencies, far below this; the bound only stops a pathological catalog
/// (or a bug) from growing the map without limit.
pub(crate) const MAX_CONVERSIONS: usize = 1024;

/// The frontend's caches, one per kind of answer.
#[derive(Debug)]
pub(crate) struct Caches {
    /// `GetSupportedCurrencies`.
    pub(crate) currencies: TtlCell<Vec<String>>,
    /// `ListProducts`; `GetProduct` is answered from it when it holds the id.
    pub(crate) catalog: TtlCell<Vec<boutique_proto::Product>>,
    /// `Convert`, by (amount, target currency code).
    pub(crate) conversions: TtlMap<(boutique_money::Money, String), boutique_money::Money>,
}

impl Caches {
    /// Empty caches keeping answers for `ttl` (zero: no caching).
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            currencies: TtlCell::new(ttl),
            catalog: TtlCell::new(ttl),
            conversions: TtlMap::new(ttl, MAX_CONVERSIONS),
        }
    }

    /// True when answers are kept at all.
    pub(crate) fn enabled(&self) -> bool {
        !self.catalog.ttl.is_zero()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    const TTL: Duration = Duration::from_secs(5);

    /// A fetch that counts its calls and answers `value`.
    async fn counted<T>(calls: &AtomicUsize, value: T) -> Result<T, &'static str> {
        calls.fetch_add(1, Ordering::SeqCst);
        Ok(value)
    }

    #[tokio::test(start_paused = true)]
    async fn a_cell_serves_its_value_until_the_ttl_runs_out() {
        let cell = TtlCell::new(TTL);
        let calls = AtomicUsize::new(0);
        assert_eq!(*cell.get_or_try(|| counted(&calls, 1)).await.unwrap(), 1);
        tokio::time::advance(TTL - Duration::from_millis(1)).await;
        assert_eq!(*cell.get_or_try(|| counted(&calls, 2)).await.unwrap(), 1);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(cell.get().is_none(), "stale at exactly the TTL");
        assert_eq!(*cell.get_or_try(|| counted(&calls, 2)).await.unwrap(), 2);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn freshness_counts_from_the_start_of_the_call() {
        let cell = TtlCell::new(TTL);
        let slow = async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            Ok::<_, ()>(7)
        };
        cell.get_or_try(|| slow).await.unwrap();
        tokio::time::advance(Duration::from_secs(3)).await;
        assert!(cell.get().is_none(), "5 s after the call started");
    }

    #[tokio::test(start_paused = true)]
    async fn a_cell_never_stores_a_failure() {
        let cell: TtlCell<u32> = TtlCell::new(TTL);
        let failed = cell.get_or_try(|| async { Err("down") }).await;
        assert_eq!(failed.unwrap_err(), "down");
        assert!(cell.get().is_none());
        let calls = AtomicUsize::new(0);
        assert_eq!(*cell.get_or_try(|| counted(&calls, 3)).await.unwrap(), 3);
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "the next request asks again"
        );
        // A failure after a success neither stores nor evicts anything.
        tokio::time::advance(TTL).await;
        assert!(cell.get_or_try(|| async { Err("down") }).await.is_err());
        assert!(cell.get().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_zero_ttl_stores_nothing() {
        let cell = TtlCell::new(Duration::ZERO);
        let map = TtlMap::new(Duration::ZERO, 8);
        let calls = AtomicUsize::new(0);
        for _ in 0..3 {
            cell.get_or_try(|| counted(&calls, 1)).await.unwrap();
            map.get_or_try("k", || counted(&calls, 1)).await.unwrap();
        }
        assert_eq!(calls.load(Ordering::SeqCst), 6);
        assert_eq!(map.len(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_map_expires_entries_and_never_stores_failures() {
        let map = TtlMap::new(TTL, 8);
        let calls = AtomicUsize::new(0);
        assert_eq!(map.get_or_try("a", || counted(&calls, 1)).await, Ok(1));
        assert_eq!(map.get_or_try("a", || counted(&calls, 9)).await, Ok(1));
        assert_eq!(map.get_or_try("b", || counted(&calls, 2)).await, Ok(2));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(
            map.get_or_try("c", || async { Err("down") }).await,
            Err("down")
        );
        assert_eq!(map.get(&"c"), None);
        tokio::time::advance(TTL).await;
        assert_eq!(map.get(&"a"), None);
        assert_eq!(map.get_or_try("a", || counted(&calls, 3)).await, Ok(3));
    }

    #[tokio::test(start_paused = true)]
    async fn a_map_is_bounded_and_evicts_the_oldest_first() {
        let map = TtlMap::new(TTL, 3);
        for (i, key) in ["a", "b", "c"].into_iter().enumerate() {
            map.get_or_try(key.to_owned(), || async { Ok::<_, ()>(i) })
                .await
                .unwrap();
            tokio::time::advance(Duration::from_millis(10)).await;
        }
        map.get_or_try("d".to_owned(), || async { Ok::<_, ()>(3) })
            .await
            .unwrap();
        assert_eq!(map.len(), 3);
        assert_eq!(map.get(&"a".to_owned()), None, "the oldest made room");
        assert_eq!(map.get(&"b".to_owned()), Some(1));
        assert_eq!(map.get(&"d".to_owned()), Some(3));
        // Expired entries (b and c) are dropped before any fresh one (d).
        tokio::time::advance(TTL - Duration::from_millis(5)).await;
        map.get_or_try("e".to_owned(), || async { Ok::<_, ()>(4) })
            .await
            .unwrap();
        assert_eq!(map.len(), 2);
        assert_eq!(map.get(&"d".to_owned()), Some(3));
        // However many distinct keys arrive, the map stays within its capacity.
        for i in 0..100 {
            map.get_or_try(format!("k{i}"), || async { Ok::<_, ()>(i) })
                .await
                .unwrap();
            assert!(map.len() <= 3);
        }
        assert_eq!(map.get(&"k99".to_owned()), Some(99));
    }
}
