//! The in-memory store: carts in a map behind one mutex.
//!
//! Each operation takes the lock only for its map update and never across an
//! `.await`, which makes every operation atomic without blocking the runtime
//! for long. Expiry is lazy: an idle cart is treated as absent once its TTL has
//! passed, and a sweep during adds (at most once per [`SWEEP_EVERY`] or per
//! TTL, whichever is shorter) drops carts nobody comes back to.

use std::{
    collections::HashMap,
    sync::{Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use boutique_proto::CartItem;
use tokio::time::Instant;

use super::{CartStore, MAX_LINE_QUANTITY, StoreError};

/// The longest time between two sweeps of expired carts.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Carts kept in the process; lost on restart.
#[derive(Debug)]
pub struct MemoryStore {
    ttl: Option<Duration>,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    carts: HashMap<String, Cart>,
    last_sweep: Instant,
}

#[derive(Debug)]
struct Cart {
    // A Vec keeps insertion order; carts are small, so a linear search is cheap.
    items: Vec<CartItem>,
    touched: Instant,
}

impl MemoryStore {
    /// An empty store whose carts expire after `ttl` without an add (`None`: never).
    pub fn new(ttl: Option<Duration>) -> Self {
        Self {
            ttl,
            state: Mutex::new(State {
                carts: HashMap::new(),
                last_sweep: Instant::now(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every critical section leaves the map consistent even if it panicked
        // half-way (it only pushes or assigns), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn is_expired(&self, cart: &Cart, now: Instant) -> bool {
        self.ttl
            .is_some_and(|ttl| now.saturating_duration_since(cart.touched) >= ttl)
    }

    /// The number of carts held, expired ones included until they are swept.
    pub fn len(&self) -> usize {
        self.lock().carts.len()
    }

    /// True when no cart is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[tonic::async_trait]
impl CartStore for MemoryStore {
    async fn add_item(
        &self,
        user_id: &str,
        product_id: &str,
        quantity: i32,
    ) -> Result<(), StoreError> {
        let now = Instant::now();
        let mut state = self.lock();
        if let Some(ttl) = self.ttl
            && now.saturating_duration_since(state.last_sweep) >= ttl.min(SWEEP_EVERY)
        {
            state.carts.retain(|_, cart| !self.is_expired(cart, now));
            state.last_sweep = now;
        }
        let expired = state
            .carts
            .get(user_id)
            .is_some_and(|cart| self.is_expired(cart, now));
        if expired {
            state.carts.remove(user_id);
        }
        let current = state
            .carts
            .get(user_id)
            .and_then(|cart| cart.items.iter().find(|i| i.product_id == product_id))
            .map_or(0, |item| item.quantity);
        // Both are at most MAX_LINE_QUANTITY, so the sum cannot overflow.
        let total = current.saturating_add(quantity);
        if total > MAX_LINE_QUANTITY {
            return Err(StoreError::LineLimit {
                product_id: product_id.to_owned(),
                current: i64::from(current),
                added: quantity,
            });
        }
        let cart = state
            .carts
            .entry(user_id.to_owned())
            .or_insert_with(|| Cart {
                items: Vec::new(),
                touched: now,
            });
        cart.touched = now;
        match cart.items.iter_mut().find(|i| i.product_id == product_id) {
            Some(item) => item.quantity = total,
            None => cart.items.push(CartItem {
                product_id: product_id.to_owned(),
                quantity: total,
            }),
        }
        Ok(())
    }

    async fn get_cart(&self, user_id: &str) -> Result<Vec<CartItem>, StoreError> {
        let now = Instant::now();
        let mut state = self.lock();
        match state.carts.get(user_id) {
            Some(cart) if self.is_expired(cart, now) => {
                state.carts.remove(user_id);
                Ok(Vec::new())
            }
            Some(cart) => Ok(cart.items.clone()),
            None => Ok(Vec::new()),
        }
    }

    async fn empty_cart(&self, user_id: &str) -> Result<(), StoreError> {
        self.lock().carts.remove(user_id);
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quantities(items: &[CartItem]) -> Vec<(&str, i32)> {
        items
            .iter()
            .map(|i| (i.product_id.as_str(), i.quantity))
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn idle_carts_expire_and_adds_restart_the_clock() {
        let store = MemoryStore::new(Some(Duration::from_secs(100)));
        store.add_item("u", "A", 1).await.unwrap();
        tokio::time::advance(Duration::from_secs(60)).await;
        store.add_item("u", "A", 1).await.unwrap();
        tokio::time::advance(Duration::from_secs(60)).await;
        // 120 s after the first add but only 60 s after the last one.
        assert_eq!(quantities(&store.get_cart("u").await.unwrap()), [("A", 2)]);
        tokio::time::advance(Duration::from_secs(40)).await;
        assert!(store.get_cart("u").await.unwrap().is_empty());
        // An expired cart starts afresh rather than growing the old line.
        store.add_item("u", "A", 3).await.unwrap();
        assert_eq!(quantities(&store.get_cart("u").await.unwrap()), [("A", 3)]);
    }

    #[tokio::test(start_paused = true)]
    async fn adds_sweep_carts_nobody_reads() {
        let store = MemoryStore::new(Some(Duration::from_secs(10)));
        store.add_item("gone", "A", 1).await.unwrap();
        tokio::time::advance(Duration::from_secs(11)).await;
        store.add_item("other", "A", 1).await.unwrap();
        assert_eq!(store.len(), 1, "the idle cart was not swept");
    }

    #[tokio::test(start_paused = true)]
    async fn without_ttl_carts_stay() {
        let store = MemoryStore::new(None);
        store.add_item("u", "A", 1).await.unwrap();
        tokio::time::advance(Duration::from_secs(10 * 365 * 86_400)).await;
        assert_eq!(quantities(&store.get_cart("u").await.unwrap()), [("A", 1)]);
    }
}
