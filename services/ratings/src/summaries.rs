//! GetSummaries' reads: the product pages' one call, so kept cheap. Each
//! summary is one row read by primary key, many products in one query, and
//! this replica reuses what it read for a short TTL (moka: bounded, expiring).
//!
//! This replica's own writes invalidate the product's entry after they
//! commit, so a shopper sees their rating counted at once. Another replica's
//! writes show within the TTL. A read that raced a write must not put the
//! old value back after the write's invalidation: every write bumps a
//! generation counter before invalidating, and a read that stored what it
//! read drops it again when the generation moved while it worked (see
//! [`Summaries::get`]).

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use boutique_store::{RatingBook, StoreError, ratings::Summary};
use moka::future::Cache;

/// Products whose summaries are held at most (a few hundred bytes each).
const CAPACITY: u64 = 10_000;

/// Summaries, read through a short cache. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Summaries {
    book: RatingBook,
    /// `None` when the TTL is zero: every call reads the database.
    cache: Option<Cache<String, Summary>>,
    /// Moved by every write of this replica, before its invalidation.
    generation: Arc<AtomicU64>,
}

impl Summaries {
    pub(crate) fn new(book: RatingBook, ttl: Duration) -> Self {
        let cache = (!ttl.is_zero()).then(|| {
            Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(ttl)
                .build()
        });
        Self {
            book,
            cache,
            generation: Arc::new(AtomicU64::new(0)),
        }
    }

    /// One summary per id, in the order asked (zero for a product without
    /// ratings): from the cache, the rest in one query.
    pub(crate) async fn get(&self, ids: &[String]) -> Result<Vec<Summary>, StoreError> {
        let mut known: HashMap<&str, Summary> = HashMap::with_capacity(ids.len());
        let mut missing: Vec<String> = Vec::new();
        for id in ids {
            if known.contains_key(id.as_str()) || missing.contains(id) {
                continue;
            }
            match self.cached(id).await {
                Some(summary) => {
                    known.insert(id, summary);
                }
                None => missing.push(id.clone()),
            }
        }
        if !missing.is_empty() {
            let generation = self.generation.load(Ordering::SeqCst);
            let mut found: HashMap<String, Summary> = self
                .book
                .summaries(&missing)
                .await?
                .into_iter()
                .map(|summary| (summary.product_id.clone(), summary))
                .collect();
            for id in &missing {
                let summary = found.remove(id).unwrap_or_else(|| Summary {
                    product_id: id.clone(),
                    ..Summary::default()
                });
                if let Some(cache) = &self.cache {
                    cache.insert(id.clone(), summary.clone()).await;
                }
                known.insert(id, summary);
            }
            // A write committed while this read ran may have been invalidated
            // before the insert above: drop what was stored rather than keep
            // a value older than that write.
            if self.generation.load(Ordering::SeqCst) != generation
                && let Some(cache) = &self.cache
            {
                for id in &missing {
                    cache.invalidate(id).await;
                }
            }
        }
        Ok(ids
            .iter()
            .map(|id| known.get(id.as_str()).cloned().unwrap_or_default())
            .collect())
    }

    /// Forgets the product's summary after a write of this replica committed.
    pub(crate) async fn invalidate(&self, product_id: &str) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Some(cache) = &self.cache {
            cache.invalidate(product_id).await;
        }
    }

    async fn cached(&self, id: &str) -> Option<Summary> {
        self.cache.as_ref()?.get(id).await
    }
}
