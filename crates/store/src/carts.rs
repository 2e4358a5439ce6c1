//! The cart service's tables, when it keeps carts in the shop's database
//! (`CART_STORE=database`): one row per cart, and its lines.
//!
//! [`CartBook`] is the only code that writes them. An add is one transaction
//! that first upserts the cart's row (PostgreSQL locks it until the commit;
//! SQLite has one writer at a time anyway), and only then reads the line,
//! checks the limit and writes it. So concurrent adds to one cart take turns,
//! on any number of replicas: none is lost and none passes the limit.
//!
//! A cart not added to for longer than the idle expiry reads as empty, an add
//! to it starts a new one, and [`CartBook::prune`] deletes it (the delete of a
//! cart row takes its lines with it, and waits for an add holding the row, so
//! a cart added to meanwhile is kept).
//!
//! Owner: the cart service (see ARCHITECTURE.md).

use std::time::Duration;

use sqlx::{AnyPool, Row, any::AnyRow};

use crate::{Database, StoreError, now_ms, orders::validate_id};

/// A line of a cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartLine {
    /// The product.
    pub product_id: String,
    /// How many, at least 1.
    pub quantity: i32,
}

/// What [`CartBook::add`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// The line holds this many now.
    Added {
        /// The line's quantity after the add.
        quantity: i32,
    },
    /// The line would have passed the limit; nothing changed.
    OverLimit {
        /// The line's quantity, unchanged (0 for a product not in the cart).
        current: i32,
    },
}

/// The carts tables. Cheap to clone.
#[derive(Debug, Clone)]
pub struct CartBook {
    db: Database,
    pool: AnyPool,
    /// How long a cart lives without an add, in milliseconds; `None`: forever.
    idle_expiry_ms: Option<i64>,
}

impl CartBook {
    /// The carts tables in `db` (migrated); a cart expires `idle_expiry` after
    /// its last add (`None`: never).
    pub fn new(db: &Database, idle_expiry: Option<Duration>) -> Self {
        Self {
            db: db.clone(),
            pool: db.pool().clone(),
            idle_expiry_ms: idle_expiry.map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        }
    }

    /// Adds `quantity` (at least 1) of `product_id` to the cart of `user_id`,
    /// appending a line or growing one, unless the line would then hold more
    /// than `max_line`; restarts the cart's idle expiry.
    pub async fn add(
        &self,
        user_id: &str,
        product_id: &str,
        quantity: i32,
        max_line: i32,
    ) -> Result<Added, StoreError> {
        validate_id("user id", user_id)?;
        validate_id("product id", product_id)?;
        if quantity < 1 {
            return Err(StoreError::invalid("quantity", "it must be at least 1"));
        }
        let (book, user_id, product_id) = (self.clone(), user_id.to_owned(), product_id.to_owned());
        self.db
            .write(async move {
                book.add_here(&user_id, &product_id, quantity, max_line)
                    .await
            })
            .await
    }

    async fn add_here(
        &self,
        user_id: &str,
        product_id: &str,
        quantity: i32,
        max_line: i32,
    ) -> Result<Added, StoreError> {
        let now = now_ms()?;
        let action = "adding to a cart";
        let (_turn, mut tx) = self.db.begin_write(action).await?;
        // The cart's row first, as every writer of the cart does (see the
        // module docs); the update changes nothing, it only takes the row.
        let touched: i64 = sqlx::query(
            "INSERT INTO carts (user_id, touched_at_ms) VALUES ($1, $2) \
             ON CONFLICT (user_id) DO UPDATE SET touched_at_ms = carts.touched_at_ms \
             RETURNING touched_at_ms",
        )
        .bind(user_id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::query(action))?
        .try_get(0)
        .map_err(|e| StoreError::corrupt("cart", e))?;
        if !self.is_live(touched, now) {
            // An add to an expired cart starts a new one.
            sqlx::query("DELETE FROM cart_lines WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query(action))?;
        }
        let current: Option<i32> =
            sqlx::query("SELECT quantity FROM cart_lines WHERE user_id = $1 AND product_id = $2")
                .bind(user_id)
                .bind(product_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::query(action))?
                .map(|row| row.try_get(0))
                .transpose()
                .map_err(|e| StoreError::corrupt("cart line", e))?;
        let total = i64::from(current.unwrap_or(0)) + i64::from(quantity);
        let total = match i32::try_from(total) {
            Ok(total) if total <= max_line => total,
            _ => {
                tx.rollback().await.map_err(StoreError::query(action))?;
                return Ok(Added::OverLimit {
                    current: current.unwrap_or(0),
                });
            }
        };
        if current.is_some() {
            sqlx::query(
                "UPDATE cart_lines SET quantity = $3 WHERE user_id = $1 AND product_id = $2",
            )
            .bind(user_id)
            .bind(product_id)
            .bind(total)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(action))?;
        } else {
            let last: i64 = sqlx::query(
                "SELECT CAST(COALESCE(MAX(position), 0) AS BIGINT) FROM cart_lines \
                 WHERE user_id = $1",
            )
            .bind(user_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::query(action))?
            .try_get(0)
            .map_err(|e| StoreError::corrupt("cart line", e))?;
            sqlx::query(
                "INSERT INTO cart_lines (user_id, product_id, quantity, position) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(user_id)
            .bind(product_id)
            .bind(total)
            .bind(last + 1)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(action))?;
        }
        sqlx::query("UPDATE carts SET touched_at_ms = $2 WHERE user_id = $1")
            .bind(user_id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(action))?;
        tx.commit().await.map_err(StoreError::query(action))?;
        Ok(Added::Added { quantity: total })
    }

    /// The lines of the cart of `user_id` in the order their products were
    /// first added; none for an unknown or expired cart.
    pub async fn lines(&self, user_id: &str) -> Result<Vec<CartLine>, StoreError> {
        let live_after = match self.idle_expiry_ms {
            Some(expiry) => now_ms()?.saturating_sub(expiry),
            None => i64::MIN,
        };
        sqlx::query(
            "SELECT l.product_id, l.quantity FROM cart_lines l \
             JOIN carts c ON c.user_id = l.user_id \
             WHERE l.user_id = $1 AND c.touched_at_ms > $2 ORDER BY l.position",
        )
        .bind(user_id)
        .bind(live_after)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query("reading a cart"))?
        .iter()
        .map(line_from_row)
        .collect()
    }

    /// Deletes the cart of `user_id` (nothing when there is none).
    pub async fn empty(&self, user_id: &str) -> Result<(), StoreError> {
        let (db, user_id) = (self.db.clone(), user_id.to_owned());
        self.db
            .write(async move {
                let action = "emptying a cart";
                let (_turn, mut tx) = db.begin_write(action).await?;
                sqlx::query("DELETE FROM carts WHERE user_id = $1")
                    .bind(&user_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::query(action))?;
                tx.commit().await.map_err(StoreError::query(action))
            })
            .await
    }

    /// Deletes every expired cart; how many. Nothing expires without an idle
    /// expiry.
    pub async fn prune(&self) -> Result<u64, StoreError> {
        let Some(expiry) = self.idle_expiry_ms else {
            return Ok(0);
        };
        let expired_by = now_ms()?.saturating_sub(expiry);
        let db = self.db.clone();
        self.db
            .write(async move {
                let action = "deleting expired carts";
                let (_turn, mut tx) = db.begin_write(action).await?;
                let deleted = sqlx::query("DELETE FROM carts WHERE touched_at_ms <= $1")
                    .bind(expired_by)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::query(action))?
                    .rows_affected();
                tx.commit().await.map_err(StoreError::query(action))?;
                Ok(deleted)
            })
            .await
    }

    /// Whether the database answers (for the service's health).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(StoreError::query("checking the database"))?;
        Ok(())
    }

    /// Whether a cart last added to at `touched` is still alive at `now`.
    fn is_live(&self, touched: i64, now: i64) -> bool {
        self.idle_expiry_ms
            .is_none_or(|expiry| touched > now.saturating_sub(expiry))
    }
}

fn line_from_row(row: &AnyRow) -> Result<CartLine, StoreError> {
    let corrupt = |e: sqlx::Error| StoreError::corrupt("cart line", e);
    Ok(CartLine {
        product_id: row.try_get("product_id").map_err(corrupt)?,
        quantity: row.try_get("quantity").map_err(corrupt)?,
    })
}
