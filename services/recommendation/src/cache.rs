//! A short-lived cache of the catalog's product ids.
//!
//! Every `ListRecommendations` needs the whole catalog, and the catalog
//! changes rarely (it is read from a file at its start), so asking for all of
//! it on every call made each recommendation cost a second round trip that
//! carries every product. The ids are reused for `CACHE_TTL`, counted from
//! when the call that fetched them started, so an answer is never older than
//! that; a failed call is never stored, so an outage is seen by the next
//! request once the last good answer expires. A zero TTL asks every time, as
//! upstream. Time is tokio's clock, so tests can pause and advance it.

use std::{
    future::Future,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use tokio::time::Instant;

/// How long the ids are reused unless `CACHE_TTL` says otherwise.
pub const DEFAULT_TTL: Duration = Duration::from_secs(5);

/// The catalog's ids and when they stop being fresh.
#[derive(Debug)]
pub(crate) struct CatalogCache {
    ttl: Duration,
    slot: Mutex<Option<(Instant, Arc<Vec<String>>)>>,
}

impl CatalogCache {
    /// An empty cache keeping ids for `ttl` (zero: never stored).
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            slot: Mutex::new(None),
        }
    }

    /// The ids, if fresh. A panic cannot leave the slot half-written (it is
    /// one assignment), so a poisoned lock is still usable.
    fn get(&self) -> Option<Arc<Vec<String>>> {
        let slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        slot.as_ref()
            .filter(|(expires, _)| Instant::now() < *expires)
            .map(|(_, ids)| Arc::clone(ids))
    }

    /// The fresh ids, or those `fetch` returns, stored only on success.
    /// Concurrent misses each fetch rather than queue behind one slow call.
    pub(crate) async fn get_or_try<E, F, Fut>(&self, fetch: F) -> Result<Arc<Vec<String>>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<String>, E>>,
    {
        if let Some(ids) = self.get() {
            return Ok(ids);
        }
        let started = Instant::now();
        let ids = Arc::new(fetch().await?);
        if !self.ttl.is_zero() {
            let expires = started + self.ttl;
            let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
            if slot.as_ref().is_none_or(|(current, _)| *current < expires) {
                *slot = Some((expires, Arc::clone(&ids)));
            }
        }
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    const TTL: Duration = Duration::from_secs(5);

    async fn fetch(calls: &AtomicUsize, id: &str) -> Result<Vec<String>, &'static str> {
        calls.fetch_add(1, Ordering::SeqCst);
        Ok(vec![id.to_owned()])
    }

    #[tokio::test(start_paused = true)]
    async fn reuses_ids_until_the_ttl_runs_out() {
        let cache = CatalogCache::new(TTL);
        let calls = AtomicUsize::new(0);
        assert_eq!(
            *cache.get_or_try(|| fetch(&calls, "a")).await.unwrap(),
            ["a"]
        );
        tokio::time::advance(TTL - Duration::from_millis(1)).await;
        assert_eq!(
            *cache.get_or_try(|| fetch(&calls, "b")).await.unwrap(),
            ["a"]
        );
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(
            *cache.get_or_try(|| fetch(&calls, "b")).await.unwrap(),
            ["b"]
        );
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn freshness_counts_from_the_start_of_the_call() {
        let cache = CatalogCache::new(TTL);
        let slow = async {
            tokio::time::sleep(Duration::from_secs(4)).await;
            Ok::<_, ()>(vec!["a".to_owned()])
        };
        cache.get_or_try(|| slow).await.unwrap();
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(cache.get().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn never_stores_a_failure() {
        let cache = CatalogCache::new(TTL);
        assert!(cache.get_or_try(|| async { Err("down") }).await.is_err());
        assert!(cache.get().is_none());
        let calls = AtomicUsize::new(0);
        cache.get_or_try(|| fetch(&calls, "a")).await.unwrap();
        tokio::time::advance(TTL).await;
        assert!(cache.get_or_try(|| async { Err("down") }).await.is_err());
        assert!(cache.get().is_none(), "an expired answer is not revived");
    }

    #[tokio::test(start_paused = true)]
    async fn a_zero_ttl_asks_every_time() {
        let cache = CatalogCache::new(Duration::ZERO);
        let calls = AtomicUsize::new(0);
        for _ in 0..3 {
            cache.get_or_try(|| fetch(&calls, "a")).await.unwrap();
        }
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }
}
