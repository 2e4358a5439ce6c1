//! The database store: carts in the shop's SQLite or PostgreSQL database
//! (`CART_STORE=database`), through [`boutique_store::CartBook`].
//!
//! Unlike the memory store, a cart outlives the process (a restart, a
//! rolling update) and every replica sees the same carts, as with Redis, but
//! without a server beside the database the shop has anyway. Each add is one
//! transaction that takes the cart's row first, so concurrent adds are atomic
//! per cart on any number of replicas (see `boutique_store::carts`).
//! Expired carts are swept during adds, at most once per [`SWEEP_EVERY`].

use std::{
    sync::{Mutex, PoisonError},
    time::Duration,
};

use boutique_proto::CartItem;
use boutique_store::{CartBook, carts::Added};
use tokio::time::Instant;

use super::{CartStore, MAX_LINE_QUANTITY, StoreError};

/// The longest time between two sweeps of expired carts by one process.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Carts in the database.
#[derive(Debug)]
pub struct DatabaseStore {
    book: CartBook,
    last_sweep: Mutex<Instant>,
}

impl DatabaseStore {
    /// Carts in `book`'s tables.
    pub fn new(book: CartBook) -> Self {
        Self {
            book,
            last_sweep: Mutex::new(Instant::now()),
        }
    }

    /// Sweeps expired carts when the last sweep is old enough; a failed
    /// sweep is logged and tried again at the next interval, never failing
    /// the add that ran it.
    async fn sweep_now_and_then(&self) {
        {
            let mut last = self
                .last_sweep
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if last.elapsed() < SWEEP_EVERY {
                return;
            }
            *last = Instant::now();
        }
        match self.book.prune().await {
            Ok(0) => {}
            Ok(swept) => tracing::debug!(swept, "Swept expired carts."),
            Err(error) => tracing::warn!(error = %error, "Cannot sweep expired carts."),
        }
    }
}

/// What the shop's store error means to the cart's callers: a value it will
/// not keep is theirs to fix; anything else is an outage.
fn store_error(error: boutique_store::StoreError) -> StoreError {
    match error {
        boutique_store::StoreError::Invalid { .. } => StoreError::Invalid(error.to_string()),
        other => StoreError::unavailable(other),
    }
}

#[tonic::async_trait]
impl CartStore for DatabaseStore {
    async fn add_item(
        &self,
        user_id: &str,
        product_id: &str,
        quantity: i32,
    ) -> Result<(), StoreError> {
        let added = self
            .book
            .add(user_id, product_id, quantity, MAX_LINE_QUANTITY)
            .await
            .map_err(store_error)?;
        self.sweep_now_and_then().await;
        match added {
            Added::Added { .. } => Ok(()),
            Added::OverLimit { current } => Err(StoreError::LineLimit {
                product_id: product_id.to_owned(),
                current: i64::from(current),
                added: quantity,
            }),
        }
    }

    async fn get_cart(&self, user_id: &str) -> Result<Vec<CartItem>, StoreError> {
        let lines = self.book.lines(user_id).await.map_err(store_error)?;
        Ok(lines
            .into_iter()
            .map(|line| CartItem {
                product_id: line.product_id,
                quantity: line.quantity,
            })
            .collect())
    }

    async fn empty_cart(&self, user_id: &str) -> Result<(), StoreError> {
        self.book.empty(user_id).await.map_err(store_error)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.book.ping().await.map_err(store_error)
    }
}
