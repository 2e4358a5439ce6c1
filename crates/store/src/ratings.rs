//! The ratings service's tables: one rating per account and product, each
//! product's summary, and the per-account write limit ([`limit`]).
//!
//! [`RatingBook`] is the only code that writes them. Every change to
//! `ratings` is one transaction that also moves the product's row of
//! `rating_summaries`, so a summary always equals its product's rows and a
//! product page reads one row instead of counting:
//!
//! - Writers of one product take turns on its summary row: each write
//!   transaction first upserts that row (PostgreSQL locks it until the
//!   commit; SQLite has one writer at a time anyway), and only then reads the
//!   rating it replaces. So two writes of one rating, or of one product, can
//!   never both count from the same old value, and since every writer locks
//!   the summary before the rating, they cannot deadlock either.
//! - The summary moves by the difference the write made (one more rating and
//!   its stars; the new stars minus the old; one fewer), never by a recount.
//!
//! Text is kept exactly as given: it is plain text, which whoever shows it
//! must escape. The finer rules (which characters, the account id's shape,
//! whether the product exists) are the service's; the store refuses only what
//! would break its own invariants (stars outside 1..=5, empty or overlong
//! ids, overlong text).
//!
//! Owner: the ratings service (see ARCHITECTURE.md).

pub mod limit;

use sqlx::{Any, AnyPool, Row, Transaction, any::AnyRow};

use crate::{Database, StoreError, now_ms, orders::validate_id};

/// The longest account or product id kept, in bytes (the same bound as order ids).
pub const MAX_ID_LEN: usize = crate::orders::MAX_ID_LEN;

/// The longest text kept, in characters (Unicode scalar values).
pub const MAX_TEXT_CHARS: usize = 2000;

/// How many product ids one summary query asks for: the placeholders of
/// [`SUMMARIES_QUERY`], which is a literal so that every batch reuses one
/// prepared statement.
pub const SUMMARY_BATCH: usize = 32;

/// A rating as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rating {
    /// Who wrote it.
    pub account_id: String,
    /// What it rates.
    pub product_id: String,
    /// 1 to 5.
    pub stars: u8,
    /// Plain text as written; may be empty.
    pub text: String,
    /// The account had a paid order with the product.
    pub verified_purchase: bool,
    /// When it was first written, in milliseconds since the Unix epoch.
    pub created_at_ms: i64,
    /// When it was last written.
    pub updated_at_ms: i64,
}

/// What [`RatingBook::put`] needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRating {
    /// Who writes it.
    pub account_id: String,
    /// What it rates.
    pub product_id: String,
    /// 1 to 5.
    pub stars: u8,
    /// Plain text; may be empty.
    pub text: String,
    /// A paid order with the product is known now. A rating once verified
    /// stays verified when rewritten without this.
    pub verified_purchase: bool,
}

/// What [`RatingBook::put`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Put {
    /// The account had not rated the product: a new rating.
    Created(Rating),
    /// The account's rating was replaced.
    Updated {
        /// The rating now.
        rating: Rating,
        /// Its stars before.
        previous_stars: u8,
    },
}

impl Put {
    /// The rating as stored now.
    pub fn rating(&self) -> &Rating {
        match self {
            Self::Created(rating) | Self::Updated { rating, .. } => rating,
        }
    }
}

/// How a product is rated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// The product.
    pub product_id: String,
    /// How many ratings it has.
    pub count: i64,
    /// The sum of their stars.
    pub stars_sum: i64,
}

impl Summary {
    /// The average in hundredths of a star, rounded half up; 0 for no ratings.
    pub fn average_centistars(&self) -> u32 {
        if self.count <= 0 {
            return 0;
        }
        // (100 * sum + count / 2) / count, in integers: 13 stars over 3 is 433.
        let centi = (self.stars_sum.saturating_mul(100) + self.count / 2) / self.count;
        u32::try_from(centi).unwrap_or(0)
    }
}

/// The ratings tables. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RatingBook {
    db: Database,
    pool: AnyPool,
}

/// The summaries of up to [`SUMMARY_BATCH`] products (a short batch repeats
/// an id: `IN` does not mind).
const SUMMARIES_QUERY: &str = "SELECT product_id, rating_count, stars_sum FROM rating_summaries \
     WHERE product_id IN ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
     $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32)";

impl RatingBook {
    /// The ratings tables in `db` (migrated).
    pub fn new(db: &Database) -> Self {
        Self {
            db: db.clone(),
            pool: db.pool().clone(),
        }
    }

    /// Creates the account's rating of the product or replaces its stars and
    /// text, moving the product's summary in the same transaction.
    pub async fn put(&self, new: &NewRating) -> Result<Put, StoreError> {
        validate_id("account id", &new.account_id)?;
        validate_id("product id", &new.product_id)?;
        validate_stars(new.stars)?;
        if new.text.chars().count() > MAX_TEXT_CHARS {
            return Err(StoreError::invalid(
                "text",
                format_args!("it is longer than {MAX_TEXT_CHARS} characters"),
            ));
        }
        let now = now_ms()?;
        let action = "writing a rating";
        let (_turn, mut tx) = self.db.begin_write(action).await?;
        lock_summary(&mut tx, &new.product_id, action).await?;
        let old = sqlx::query(
            "SELECT account_id, product_id, stars, text, verified_purchase, created_at_ms, \
             updated_at_ms FROM ratings WHERE product_id = $1 AND account_id = $2",
        )
        .bind(&new.product_id)
        .bind(&new.account_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::query(action))?
        .map(|row| from_row(&row))
        .transpose()?;
        let put = match old {
            None => {
                sqlx::query(
                    "INSERT INTO ratings (product_id, account_id, stars, text, verified_purchase, \
                     created_at_ms, updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $6)",
                )
                .bind(&new.product_id)
                .bind(&new.account_id)
                .bind(i32::from(new.stars))
                .bind(&new.text)
                .bind(i32::from(new.verified_purchase))
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query(action))?;
                move_summary(&mut tx, &new.product_id, 1, i64::from(new.stars), action).await?;
                Put::Created(Rating {
                    account_id: new.account_id.clone(),
                    product_id: new.product_id.clone(),
                    stars: new.stars,
                    text: new.text.clone(),
                    verified_purchase: new.verified_purchase,
                    created_at_ms: now,
                    updated_at_ms: now,
                })
            }
            Some(old) => {
                let verified = new.verified_purchase || old.verified_purchase;
                // Never earlier than before, should the clock step back.
                let updated_at_ms = now.max(old.updated_at_ms);
                sqlx::query(
                    "UPDATE ratings SET stars = $3, text = $4, verified_purchase = $5, \
                     updated_at_ms = $6 WHERE product_id = $1 AND account_id = $2",
                )
                .bind(&new.product_id)
                .bind(&new.account_id)
                .bind(i32::from(new.stars))
                .bind(&new.text)
                .bind(i32::from(verified))
                .bind(updated_at_ms)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query(action))?;
                let delta = i64::from(new.stars) - i64::from(old.stars);
                move_summary(&mut tx, &new.product_id, 0, delta, action).await?;
                Put::Updated {
                    rating: Rating {
                        stars: new.stars,
                        text: new.text.clone(),
                        verified_purchase: verified,
                        updated_at_ms,
                        ..old.clone()
                    },
                    previous_stars: old.stars,
                }
            }
        };
        tx.commit().await.map_err(StoreError::query(action))?;
        Ok(put)
    }

    /// Deletes the account's rating of the product, moving the summary in the
    /// same transaction: the rating deleted, or `None` when there was none.
    pub async fn delete(
        &self,
        account_id: &str,
        product_id: &str,
    ) -> Result<Option<Rating>, StoreError> {
        let action = "deleting a rating";
        let (_turn, mut tx) = self.db.begin_write(action).await?;
        // The summary first, as every writer does (see the module docs).
        sqlx::query(
            "UPDATE rating_summaries SET rating_count = rating_count WHERE product_id = $1",
        )
        .bind(product_id)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(action))?;
        let deleted = sqlx::query(
            "DELETE FROM ratings WHERE product_id = $1 AND account_id = $2 \
             RETURNING account_id, product_id, stars, text, verified_purchase, created_at_ms, \
             updated_at_ms",
        )
        .bind(product_id)
        .bind(account_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::query(action))?
        .map(|row| from_row(&row))
        .transpose()?;
        let Some(deleted) = deleted else {
            tx.rollback().await.map_err(StoreError::query(action))?;
            return Ok(None);
        };
        move_summary(&mut tx, product_id, -1, -i64::from(deleted.stars), action).await?;
        tx.commit().await.map_err(StoreError::query(action))?;
        Ok(Some(deleted))
    }

    /// The account's rating of the product.
    pub async fn get(
        &self,
        account_id: &str,
        product_id: &str,
    ) -> Result<Option<Rating>, StoreError> {
        sqlx::query(
            "SELECT account_id, product_id, stars, text, verified_purchase, created_at_ms, \
             updated_at_ms FROM ratings WHERE product_id = $1 AND account_id = $2",
        )
        .bind(product_id)
        .bind(account_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::query("reading a rating"))?
        .map(|row| from_row(&row))
        .transpose()
    }

    /// The product's ratings, most recently written first: up to `limit`
    /// after `after` (the last rating of the previous page, as
    /// `(updated_at_ms, account_id)`).
    pub async fn list_by_product(
        &self,
        product_id: &str,
        limit: u32,
        after: Option<(i64, &str)>,
    ) -> Result<Vec<Rating>, StoreError> {
        let (before_ms, before_account) = after.unwrap_or((i64::MAX, ""));
        let rows = sqlx::query(
            "SELECT account_id, product_id, stars, text, verified_purchase, created_at_ms, \
             updated_at_ms FROM ratings WHERE product_id = $1 \
             AND (updated_at_ms < $2 OR (updated_at_ms = $2 AND account_id < $3)) \
             ORDER BY updated_at_ms DESC, account_id DESC LIMIT $4",
        )
        .bind(product_id)
        .bind(before_ms)
        // For the first page every id sorts after "": the first clause decides.
        .bind(before_account)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query("listing ratings"))?;
        rows.iter().map(from_row).collect()
    }

    /// The summaries of the products in `product_ids` that have one, in no
    /// particular order (a product never rated has none). One indexed query
    /// per [`SUMMARY_BATCH`] ids.
    pub async fn summaries(&self, product_ids: &[String]) -> Result<Vec<Summary>, StoreError> {
        let mut found = Vec::new();
        for batch in product_ids.chunks(SUMMARY_BATCH) {
            let mut query = sqlx::query(SUMMARIES_QUERY);
            for i in 0..SUMMARY_BATCH {
                query = query.bind(batch.get(i).unwrap_or(&batch[0]).as_str());
            }
            let rows = query
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::query("reading rating summaries"))?;
            for row in &rows {
                let summary = summary_from_row(row)?;
                // A product in two batches is found twice.
                if !found
                    .iter()
                    .any(|s: &Summary| s.product_id == summary.product_id)
                {
                    found.push(summary);
                }
            }
        }
        Ok(found)
    }

    /// Every product's summary and what its rows add up to, for checks:
    /// `(summary, counted)` for each product with either.
    pub async fn recount(&self) -> Result<Vec<(Summary, Summary)>, StoreError> {
        let action = "recounting ratings";
        let stored =
            sqlx::query("SELECT product_id, rating_count, stars_sum FROM rating_summaries")
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::query(action))?;
        let counted = sqlx::query(
            "SELECT product_id, COUNT(*) AS rating_count, SUM(stars) AS stars_sum \
             FROM ratings GROUP BY product_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(action))?;
        let stored: Vec<Summary> = stored
            .iter()
            .map(summary_from_row)
            .collect::<Result<_, _>>()?;
        let counted: Vec<Summary> = counted
            .iter()
            .map(summary_from_row)
            .collect::<Result<_, _>>()?;
        let mut ids: Vec<&str> = stored
            .iter()
            .chain(&counted)
            .map(|s| s.product_id.as_str())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let find = |list: &[Summary], id: &str| {
            list.iter()
                .find(|s| s.product_id == id)
                .cloned()
                .unwrap_or_else(|| Summary {
                    product_id: id.to_owned(),
                    ..Summary::default()
                })
        };
        Ok(ids
            .into_iter()
            .map(|id| (find(&stored, id), find(&counted, id)))
            .collect())
    }
}

/// Takes the product's summary row (creating it at zero), which makes the
/// writers of one product take turns on PostgreSQL until they commit.
async fn lock_summary(
    tx: &mut Transaction<'static, Any>,
    product_id: &str,
    action: &'static str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO rating_summaries (product_id, rating_count, stars_sum) VALUES ($1, 0, 0) \
         ON CONFLICT (product_id) DO UPDATE SET rating_count = rating_summaries.rating_count",
    )
    .bind(product_id)
    .execute(&mut **tx)
    .await
    .map_err(StoreError::query(action))?;
    Ok(())
}

/// Moves the product's summary by what a write changed.
async fn move_summary(
    tx: &mut Transaction<'static, Any>,
    product_id: &str,
    count: i64,
    stars: i64,
    action: &'static str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE rating_summaries SET rating_count = rating_count + $2, stars_sum = stars_sum + $3 \
         WHERE product_id = $1",
    )
    .bind(product_id)
    .bind(count)
    .bind(stars)
    .execute(&mut **tx)
    .await
    .map_err(StoreError::query(action))?;
    Ok(())
}

fn from_row(row: &AnyRow) -> Result<Rating, StoreError> {
    let corrupt = |e: sqlx::Error| StoreError::corrupt("rating", e);
    let stars: i32 = row.try_get("stars").map_err(corrupt)?;
    Ok(Rating {
        account_id: row.try_get("account_id").map_err(corrupt)?,
        product_id: row.try_get("product_id").map_err(corrupt)?,
        stars: u8::try_from(stars)
            .ok()
            .filter(|s| (1..=5).contains(s))
            .ok_or_else(|| StoreError::corrupt("rating", format_args!("{stars} stars")))?,
        text: row.try_get("text").map_err(corrupt)?,
        verified_purchase: row
            .try_get::<i32, _>("verified_purchase")
            .map_err(corrupt)?
            != 0,
        created_at_ms: row.try_get("created_at_ms").map_err(corrupt)?,
        updated_at_ms: row.try_get("updated_at_ms").map_err(corrupt)?,
    })
}

fn summary_from_row(row: &AnyRow) -> Result<Summary, StoreError> {
    let corrupt = |e: sqlx::Error| StoreError::corrupt("rating summary", e);
    Ok(Summary {
        product_id: row.try_get("product_id").map_err(corrupt)?,
        count: row.try_get("rating_count").map_err(corrupt)?,
        stars_sum: row.try_get("stars_sum").map_err(corrupt)?,
    })
}

fn validate_stars(stars: u8) -> Result<(), StoreError> {
    if !(1..=5).contains(&stars) {
        return Err(StoreError::invalid(
            "stars",
            format_args!("{stars} is not 1 to 5"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_round_half_up_in_hundredths() {
        let summary = |count, stars_sum| Summary {
            product_id: "p".to_owned(),
            count,
            stars_sum,
        };
        assert_eq!(summary(0, 0).average_centistars(), 0);
        assert_eq!(summary(1, 5).average_centistars(), 500);
        assert_eq!(summary(3, 13).average_centistars(), 433);
        assert_eq!(summary(3, 14).average_centistars(), 467);
        // 4.125 rounds up to 4.13.
        assert_eq!(summary(8, 33).average_centistars(), 413);
    }

    #[test]
    fn the_summary_query_has_one_placeholder_per_batch_slot() {
        let last = format!("${SUMMARY_BATCH})");
        assert!(SUMMARIES_QUERY.ends_with(&last), "{SUMMARIES_QUERY}");
        assert!(!SUMMARIES_QUERY.contains(&format!("${}", SUMMARY_BATCH + 1)));
    }
}
