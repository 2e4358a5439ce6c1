//! Short-lived caches of backend answers that rarely change (a currency list,
//! a catalog, conversions), the one kind every service that caches uses.
//!
//! A [`TtlCache`] is [moka](https://docs.rs/moka)'s async cache with the rules
//! our services rely on:
//! - **one load per key at a time**: when an entry is missing or has expired,
//!   one caller runs its load and every concurrent caller of the same key waits
//!   for that result, so an expiry under load costs the backend one call, not
//!   one per waiting request (if the loading caller gives up, a waiter loads);
//! - an entry is fresh for the TTL counted from when its load *started*, so
//!   nothing is served later than the TTL after the backend could have said
//!   otherwise;
//! - only answers are stored, never failures: a failed load is returned to
//!   everyone who waited for it, and the next request asks again;
//! - a zero TTL stores nothing and shares nothing: every request asks the
//!   backend (the behaviour without caching, e.g. for `EXTRA_LATENCY` demos);
//! - at most `capacity` entries are held, so no caller can grow a cache
//!   without bound (moka evicts the least likely to be used again).
//!
//! Expiry runs on moka's clock (the system's monotonic one), not tokio's, so
//! tests of expiry use real, short TTLs.

use std::{
    fmt,
    future::Future,
    hash::Hash,
    sync::Arc,
    time::{Duration, Instant},
};

use moka::{Expiry, future::Cache};

/// How long answers are reused unless `CACHE_TTL` says otherwise.
pub const DEFAULT_TTL: Duration = Duration::from_secs(5);

/// A cache of `V` by `K` whose entries stay fresh for a fixed TTL. Values are
/// cloned out, so large ones should be `Arc`s. Cheap to clone: clones share
/// the entries.
pub struct TtlCache<K, V> {
    ttl: Duration,
    /// `None` when the TTL is zero: nothing is stored.
    entries: Option<Cache<K, Fresh<V>>>,
}

impl<K, V> Clone for TtlCache<K, V> {
    fn clone(&self) -> Self {
        Self {
            ttl: self.ttl,
            entries: self.entries.clone(),
        }
    }
}

impl<K, V> fmt::Debug for TtlCache<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TtlCache")
            .field("ttl", &self.ttl)
            .field("entries", &self.entries.as_ref().map(Cache::entry_count))
            .finish()
    }
}

/// A stored answer and when the load that fetched it started.
#[derive(Clone)]
struct Fresh<V> {
    value: V,
    started: Instant,
}

/// Expires an entry the TTL after its load started (moka's own TTL would
/// count from when the load finished).
struct FromLoadStart(Duration);

impl<K, V> Expiry<K, Fresh<V>> for FromLoadStart {
    fn expire_after_create(
        &self,
        _key: &K,
        value: &Fresh<V>,
        created_at: Instant,
    ) -> Option<Duration> {
        Some(
            self.0
                .saturating_sub(created_at.saturating_duration_since(value.started)),
        )
    }
}

impl<K, V> TtlCache<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// An empty cache whose entries stay fresh for `ttl` (zero: nothing is
    /// stored), holding at most `capacity` of them.
    pub fn new(ttl: Duration, capacity: u64) -> Self {
        let entries = (!ttl.is_zero()).then(|| {
            Cache::builder()
                .max_capacity(capacity)
                .expire_after(FromLoadStart(ttl))
                .build()
        });
        Self { ttl, entries }
    }

    /// How long entries stay fresh.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// True when answers are kept at all (the TTL is not zero).
    pub fn enabled(&self) -> bool {
        self.entries.is_some()
    }

    /// The value for `key`, if one is fresh.
    pub async fn get(&self, key: &K) -> Option<V> {
        self.entries
            .as_ref()?
            .get(key)
            .await
            .map(|fresh| fresh.value)
    }

    /// The fresh value for `key`, or the result of `load`. While a load of
    /// `key` runs, other callers for `key` wait for its result instead of
    /// loading too; that result is stored only if it is a value.
    pub async fn get_or_try<E, F, Fut>(&self, key: K, load: F) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
        E: Clone + Send + Sync + 'static,
    {
        let Some(entries) = &self.entries else {
            return load().await;
        };
        // A hit, the common case, needs none of the loading machinery.
        if let Some(fresh) = entries.get(&key).await {
            return Ok(fresh.value);
        }
        let load = async {
            let started = Instant::now();
            load().await.map(|value| Fresh { value, started })
        };
        // Boxed: moka's loading future is large, and every caller's future
        // would otherwise carry (and move) it on every call, hit or miss.
        match Box::pin(entries.try_get_with(key, load)).await {
            Ok(fresh) => Ok(fresh.value),
            // Every waiter gets the one failure; the last holder need not copy it.
            Err(shared) => Err(Arc::try_unwrap(shared).unwrap_or_else(|shared| (*shared).clone())),
        }
    }

    /// Forgets the value for `key`, so the next caller loads it afresh (a
    /// write through this process that changed the answer). A load already
    /// running may still store what it read before the write.
    pub async fn invalidate(&self, key: &K) {
        if let Some(entries) = &self.entries {
            entries.invalidate(key).await;
        }
    }

    /// How many entries are held (after moka's pending housekeeping, which
    /// it otherwise does lazily).
    pub async fn len(&self) -> u64 {
        match &self.entries {
            Some(entries) => {
                entries.run_pending_tasks().await;
                entries.entry_count()
            }
            None => 0,
        }
    }

    /// True when no entry is held.
    pub async fn is_empty(&self) -> bool {
        self.len().await == 0
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Long enough that nothing expires while a test runs.
    const LONG: Duration = Duration::from_secs(3600);

    /// A load that counts its calls and answers `value`.
    async fn counted<T>(calls: &AtomicUsize, value: T) -> Result<T, &'static str> {
        calls.fetch_add(1, Ordering::SeqCst);
        Ok(value)
    }

    /// Runs 64 concurrent lookups of `key` whose load takes a second of
    /// tokio's paused clock. That clock only moves when every lookup is
    /// blocked, so the load cannot finish before all 64 have asked: without
    /// sharing, each of them would load.
    async fn stampede(
        cache: &TtlCache<&'static str, u32>,
        key: &'static str,
        loads: &AtomicUsize,
        outcome: Result<u32, &'static str>,
    ) -> Vec<Result<u32, &'static str>> {
        let lookups = (0..64).map(|_| {
            cache.get_or_try(key, || async {
                loads.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(1)).await;
                outcome
            })
        });
        futures::future::join_all(lookups).await
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_misses_share_one_load() {
        let cache = TtlCache::new(LONG, 8);
        let loads = AtomicUsize::new(0);
        let results = stampede(&cache, "k", &loads, Ok(7)).await;
        assert_eq!(loads.load(Ordering::SeqCst), 1, "one backend call");
        assert_eq!(results, vec![Ok(7); 64]);
        assert_eq!(cache.get(&"k").await, Some(7));
    }

    #[tokio::test]
    async fn an_invalidated_answer_is_loaded_again() {
        let cache = TtlCache::new(LONG, 8);
        let loads = AtomicUsize::new(0);
        assert_eq!(cache.get_or_try("k", || counted(&loads, 1)).await, Ok(1));
        assert_eq!(cache.get_or_try("k", || counted(&loads, 2)).await, Ok(1));
        cache.invalidate(&"k").await;
        assert_eq!(cache.get_or_try("k", || counted(&loads, 3)).await, Ok(3));
        assert_eq!(loads.load(Ordering::SeqCst), 2);
        // Nothing stored, nothing to forget.
        TtlCache::<&str, u32>::new(Duration::ZERO, 1)
            .invalidate(&"k")
            .await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_load_is_shared_but_not_stored() {
        let cache = TtlCache::new(LONG, 8);
        let loads = AtomicUsize::new(0);
        let results = stampede(&cache, "k", &loads, Err("down")).await;
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        assert_eq!(results, vec![Err("down"); 64]);
        assert_eq!(cache.get(&"k").await, None);
        assert!(cache.is_empty().await);
        // The next request asks again, and its answer is kept.
        assert_eq!(cache.get_or_try("k", || counted(&loads, 3)).await, Ok(3));
        assert_eq!(cache.get_or_try("k", || counted(&loads, 4)).await, Ok(3));
        assert_eq!(loads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn an_expired_entry_is_loaded_once_again() {
        let ttl = Duration::from_millis(20);
        let cache = TtlCache::new(ttl, 8);
        let loads = AtomicUsize::new(0);
        assert_eq!(cache.get_or_try("k", || counted(&loads, 1)).await, Ok(1));
        // Waiting out the TTL (on the real clock, which expiry uses) is the
        // behaviour under test.
        tokio::time::sleep(ttl * 2).await;
        assert_eq!(cache.get(&"k").await, None, "expired");
        tokio::time::pause();
        let results = stampede(&cache, "k", &loads, Ok(2)).await;
        assert_eq!(loads.load(Ordering::SeqCst), 2, "one call for the expiry");
        assert_eq!(results, vec![Ok(2); 64]);
    }

    #[tokio::test]
    async fn entries_are_reused_per_key() {
        let cache = TtlCache::new(LONG, 8);
        let loads = AtomicUsize::new(0);
        assert_eq!(cache.get_or_try("a", || counted(&loads, 1)).await, Ok(1));
        assert_eq!(cache.get_or_try("a", || counted(&loads, 9)).await, Ok(1));
        assert_eq!(cache.get_or_try("b", || counted(&loads, 2)).await, Ok(2));
        assert_eq!(loads.load(Ordering::SeqCst), 2);
        assert_eq!(cache.len().await, 2);
    }

    #[tokio::test]
    async fn freshness_counts_from_the_start_of_the_load() {
        // The load outlasts the TTL, so its answer is stale once it arrives:
        // it is returned to the caller but not served again.
        let ttl = Duration::from_millis(20);
        let cache = TtlCache::new(ttl, 8);
        let slow = async {
            tokio::time::sleep(ttl * 2).await;
            Ok::<_, ()>(7)
        };
        assert_eq!(cache.get_or_try("k", || slow).await, Ok(7));
        assert_eq!(cache.get(&"k").await, None);
    }

    #[tokio::test]
    async fn a_zero_ttl_asks_every_time() {
        let cache = TtlCache::new(Duration::ZERO, 8);
        assert!(!cache.enabled());
        let loads = AtomicUsize::new(0);
        for _ in 0..3 {
            cache.get_or_try("k", || counted(&loads, 1)).await.unwrap();
        }
        assert_eq!(loads.load(Ordering::SeqCst), 3);
        assert_eq!(cache.get(&"k").await, None);
        assert!(cache.is_empty().await);
    }

    #[tokio::test]
    async fn the_capacity_bounds_the_entries() {
        let cache = TtlCache::new(LONG, 3);
        for i in 0..100 {
            cache
                .get_or_try(i, || async move { Ok::<_, ()>(i) })
                .await
                .unwrap();
        }
        assert!(cache.len().await <= 3, "{}", cache.len().await);
    }
}
