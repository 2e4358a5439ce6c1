//! The payment service's ledger of charges, keyed by idempotency key.
//!
//! A charge is recorded under the key its caller sent (issue 12: checkout sends
//! one with every `Charge`). [`ChargeLedger::record_charge`] is insert-or-get:
//! the first call with a key stores its charge, and every later call with that
//! key, from any replica sharing the database, gets the first charge back, so a
//! retried payment is answered with the original transaction id instead of
//! being charged again.
//!
//! How it stays right under concurrency, on both backends: one
//! `INSERT … ON CONFLICT (idempotency_key) DO NOTHING`, committed on its own,
//! then (only when it inserted nothing) a `SELECT` of the key. The primary key
//! makes exactly one insert win; PostgreSQL makes a concurrent insert of the
//! same key wait for the winner's commit before doing nothing, and SQLite runs
//! one writer at a time, so the `SELECT` always finds the winner's row. Rows are
//! never updated; if one were deleted in between, the insert is tried again.
//!
//! Only the last four digits of a card are kept, checked here and by the table.
//! Owner: the payment service (see ARCHITECTURE.md).

use std::time::{SystemTime, UNIX_EPOCH};

use boutique_money::Money;
use sqlx::AnyPool;

use crate::{Database, StoreError};

/// The longest idempotency key accepted (checkout's limit for its own keys).
pub const MAX_KEY_LEN: usize = 255;

/// How often an insert-or-get is tried when the row it lost to disappears.
const ATTEMPTS: usize = 3;

/// A charge as the payment service made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    /// The transaction id answered to the caller.
    pub transaction_id: String,
    /// The amount charged.
    pub amount: Money,
    /// The last four digits of the card (never more).
    pub card_last_four: String,
}

/// A charge as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCharge {
    /// The key it was recorded under.
    pub idempotency_key: String,
    /// The charge.
    pub charge: Charge,
    /// When it was first recorded, in milliseconds since the Unix epoch.
    pub created_at_ms: i64,
}

/// What [`ChargeLedger::record_charge`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// The key was new: this charge is now stored.
    Inserted(StoredCharge),
    /// The key was taken: this is the charge stored first, which the caller
    /// answers with instead of its own (compare amounts to detect a key reused
    /// for a different payment).
    Existing(StoredCharge),
}

impl Recorded {
    /// The stored charge, whichever call stored it.
    pub fn stored(&self) -> &StoredCharge {
        match self {
            Self::Inserted(stored) | Self::Existing(stored) => stored,
        }
    }

    /// True when this call stored the charge.
    pub fn is_new(&self) -> bool {
        matches!(self, Self::Inserted(_))
    }
}

/// The `payment_charges` table. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ChargeLedger {
    pool: AnyPool,
}

/// The columns of a `payment_charges` row, in `SELECT` order.
type ChargeRow = (String, String, String, i64, i32, String, i64);

impl ChargeLedger {
    /// The ledger in `db` (migrated).
    pub fn new(db: &Database) -> Self {
        Self {
            pool: db.pool().clone(),
        }
    }

    /// Stores `charge` under `key` unless the key is taken, and returns the
    /// charge stored under it: this one ([`Recorded::Inserted`]) or the first
    /// one ([`Recorded::Existing`]).
    pub async fn record_charge(&self, key: &str, charge: &Charge) -> Result<Recorded, StoreError> {
        validate_key(key)?;
        validate_charge(charge)?;
        let created_at_ms = now_ms()?;
        for _ in 0..ATTEMPTS {
            let inserted = sqlx::query(
                "INSERT INTO payment_charges \
                 (idempotency_key, transaction_id, currency_code, units, nanos, card_last_four, created_at_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (idempotency_key) DO NOTHING",
            )
            .bind(key)
            .bind(&charge.transaction_id)
            .bind(charge.amount.currency_code())
            .bind(charge.amount.units())
            .bind(charge.amount.nanos())
            .bind(&charge.card_last_four)
            .bind(created_at_ms)
            .execute(&self.pool)
            .await
            .map_err(StoreError::query("recording a charge"))?
            .rows_affected();
            if inserted == 1 {
                return Ok(Recorded::Inserted(StoredCharge {
                    idempotency_key: key.to_owned(),
                    charge: charge.clone(),
                    created_at_ms,
                }));
            }
            if let Some(first) = self.find_charge(key).await? {
                return Ok(Recorded::Existing(first));
            }
        }
        Err(StoreError::corrupt(
            "charge",
            "the row under this key kept disappearing between insert and read",
        ))
    }

    /// The charge stored under `key`, if any.
    pub async fn find_charge(&self, key: &str) -> Result<Option<StoredCharge>, StoreError> {
        validate_key(key)?;
        let row: Option<ChargeRow> = sqlx::query_as(
            "SELECT idempotency_key, transaction_id, currency_code, units, nanos, card_last_four, created_at_ms \
             FROM payment_charges WHERE idempotency_key = $1",
        )
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::query("reading a charge"))?;
        row.map(from_row).transpose()
    }

    /// How many charges are stored (for audits and tests).
    pub async fn count(&self) -> Result<i64, StoreError> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM payment_charges")
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::query("counting charges"))?;
        Ok(n)
    }
}

fn from_row(row: ChargeRow) -> Result<StoredCharge, StoreError> {
    let (
        idempotency_key,
        transaction_id,
        currency_code,
        units,
        nanos,
        card_last_four,
        created_at_ms,
    ) = row;
    let amount = Money::new(currency_code, units, nanos)
        .map_err(|e| StoreError::corrupt("charge amount", e))?;
    Ok(StoredCharge {
        idempotency_key,
        charge: Charge {
            transaction_id,
            amount,
            card_last_four,
        },
        created_at_ms,
    })
}

fn validate_key(key: &str) -> Result<(), StoreError> {
    if key.is_empty() {
        return Err(StoreError::invalid("idempotency key", "it is empty"));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(StoreError::invalid(
            "idempotency key",
            format_args!("it is longer than {MAX_KEY_LEN} bytes"),
        ));
    }
    Ok(())
}

fn validate_charge(charge: &Charge) -> Result<(), StoreError> {
    if charge.transaction_id.is_empty() {
        return Err(StoreError::invalid("charge", "the transaction id is empty"));
    }
    let last_four = &charge.card_last_four;
    if last_four.len() != 4 || !last_four.bytes().all(|b| b.is_ascii_digit()) {
        // Never echo the value: it could be a whole card number.
        return Err(StoreError::invalid(
            "charge",
            "card_last_four must be exactly four digits",
        ));
    }
    Ok(())
}

fn now_ms() -> Result<i64, StoreError> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_millis()).ok())
        .ok_or_else(|| StoreError::invalid("clock", "the system time is before 1970"))
}
