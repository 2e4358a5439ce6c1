//! Where carts live: the [`CartStore`] trait and its three backends.
//!
//! Handlers validate requests; stores enforce only what must be checked
//! atomically with the write, which is the per-line limit.

pub mod database;
pub mod memory;
pub mod redis;

use std::fmt;

use boutique_proto::CartItem;

/// The most of one product a cart line may hold. It keeps a line far from
/// `i32` overflow (upstream's quantity type) and from absurd orders.
pub const MAX_LINE_QUANTITY: i32 = 10_000;

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The add would take the line over [`MAX_LINE_QUANTITY`]; nothing changed.
    #[error(
        "adding {added} of product {product_id:?} would make that line {}, over the limit of {MAX_LINE_QUANTITY} per line (the cart holds {current})",
        i64::from(*added) + current
    )]
    LineLimit {
        /// The product of the line.
        product_id: String,
        /// The quantity already in the cart.
        current: i64,
        /// The quantity the caller tried to add.
        added: i32,
    },
    /// The storage will not keep a value of the request (an id longer than
    /// the database keeps); nothing changed.
    #[error("{0}")]
    Invalid(String),
    /// The storage cannot be reached or failed; retrying later may work.
    #[error("{0}")]
    Unavailable(String),
}

impl StoreError {
    /// `Unavailable` from anything displayable.
    pub fn unavailable(error: impl fmt::Display) -> Self {
        Self::Unavailable(error.to_string())
    }
}

/// A cart store. Every method is atomic per user.
#[tonic::async_trait]
pub trait CartStore: Send + Sync + fmt::Debug + 'static {
    /// Adds `quantity` (already checked to be in `1..=MAX_LINE_QUANTITY`) of
    /// `product_id` to the user's cart, appending a new line or growing an
    /// existing one, and restarts the cart's idle expiry. Fails with
    /// [`StoreError::LineLimit`], changing nothing, when the line would exceed
    /// [`MAX_LINE_QUANTITY`].
    async fn add_item(
        &self,
        user_id: &str,
        product_id: &str,
        quantity: i32,
    ) -> Result<(), StoreError>;

    /// The user's items in the order their products were first added; empty
    /// for an unknown or expired cart.
    async fn get_cart(&self, user_id: &str) -> Result<Vec<CartItem>, StoreError>;

    /// Removes the user's cart.
    async fn empty_cart(&self, user_id: &str) -> Result<(), StoreError>;

    /// Checks that the store can serve requests (for the health service).
    async fn ping(&self) -> Result<(), StoreError>;
}
