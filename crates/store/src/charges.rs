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
//! An unclear charge is settled with [`ChargeLedger::settle`]: the charge
//! recorded under its key, or, when there is none, a void row under the key,
//! so that a charge still on its way with it loses the insert and is refused
//! ([`Recorded::Voided`]). Either way the key's answer never changes again.
//!
//! Only the last four digits of a card are kept, checked here and by the table.
//! Owner: the payment service (see ARCHITECTURE.md).

use boutique_money::Money;
use sqlx::AnyPool;

use crate::{Database, StoreError, now_ms};

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
    /// The key was voided by [`ChargeLedger::settle`]: refuse the charge.
    Voided,
}

/// What [`ChargeLedger::settle`] found under a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// A charge was recorded under it.
    Charged(StoredCharge),
    /// Nothing was, and now nothing can be.
    Voided,
}

impl Recorded {
    /// The stored charge, whichever call stored it (none for a voided key).
    pub fn stored(&self) -> Option<&StoredCharge> {
        match self {
            Self::Inserted(stored) | Self::Existing(stored) => Some(stored),
            Self::Voided => None,
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
    db: Database,
    pool: AnyPool,
}

/// The columns of a `payment_charges` row, in `SELECT` order.
type ChargeRow = (String, String, String, i64, i32, String, i64, i32);

/// What a key holds: a charge, or a void.
enum KeyRow {
    Charge(StoredCharge),
    Void,
}

impl ChargeLedger {
    /// The ledger in `db` (migrated).
    pub fn new(db: &Database) -> Self {
        Self {
            db: db.clone(),
            pool: db.pool().clone(),
        }
    }

    /// Stores `charge` under `key` unless the key is taken, and returns the
    /// charge stored under it: this one ([`Recorded::Inserted`]) or the first
    /// one ([`Recorded::Existing`]).
    pub async fn record_charge(&self, key: &str, charge: &Charge) -> Result<Recorded, StoreError> {
        let (ledger, key, charge) = (self.clone(), key.to_owned(), charge.clone());
        self.db
            .write(async move { ledger.record_charge_here(&key, &charge).await })
            .await
    }

    async fn record_charge_here(&self, key: &str, charge: &Charge) -> Result<Recorded, StoreError> {
        validate_key(key)?;
        validate_charge(charge)?;
        let created_at_ms = now_ms()?;
        for _ in 0..ATTEMPTS {
            let turn = self.db.write_lock().await;
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
            drop(turn);
            if inserted == 1 {
                return Ok(Recorded::Inserted(StoredCharge {
                    idempotency_key: key.to_owned(),
                    charge: charge.clone(),
                    created_at_ms,
                }));
            }
            match self.find_key(key).await? {
                Some(KeyRow::Charge(first)) => return Ok(Recorded::Existing(first)),
                Some(KeyRow::Void) => return Ok(Recorded::Voided),
                None => {}
            }
        }
        Err(StoreError::corrupt(
            "charge",
            "the row under this key kept disappearing between insert and read",
        ))
    }

    /// The charge stored under `key`, if any (none for a voided key).
    pub async fn find_charge(&self, key: &str) -> Result<Option<StoredCharge>, StoreError> {
        validate_key(key)?;
        Ok(match self.find_key(key).await? {
            Some(KeyRow::Charge(charge)) => Some(charge),
            Some(KeyRow::Void) | None => None,
        })
    }

    async fn find_key(&self, key: &str) -> Result<Option<KeyRow>, StoreError> {
        let row: Option<ChargeRow> = sqlx::query_as(
            "SELECT idempotency_key, transaction_id, currency_code, units, nanos, card_last_four, \
             created_at_ms, voided FROM payment_charges WHERE idempotency_key = $1",
        )
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::query("reading a charge"))?;
        row.map(from_row).transpose()
    }

    /// Settles `key`: the charge recorded under it, or, when there is none,
    /// a void that refuses any later charge with it (see the module docs).
    pub async fn settle(&self, key: &str) -> Result<Settled, StoreError> {
        validate_key(key)?;
        for _ in 0..ATTEMPTS {
            let turn = self.db.write_lock().await;
            sqlx::query(
                "INSERT INTO payment_charges \
                 (idempotency_key, transaction_id, currency_code, units, nanos, card_last_four, created_at_ms, voided) \
                 VALUES ($1, $2, 'XXX', 0, 0, '0000', $3, 1) \
                 ON CONFLICT (idempotency_key) DO NOTHING",
            )
            .bind(key)
            .bind(format!("void:{key}"))
            .bind(now_ms()?)
            .execute(&self.pool)
            .await
            .map_err(StoreError::query("voiding a charge"))?;
            drop(turn);
            match self.find_key(key).await? {
                Some(KeyRow::Charge(charge)) => return Ok(Settled::Charged(charge)),
                Some(KeyRow::Void) => return Ok(Settled::Voided),
                None => {}
            }
        }
        Err(StoreError::corrupt(
            "charge",
            "the row under this key kept disappearing between insert and read",
        ))
    }

    /// Every charge's `(idempotency key, transaction id)`, voids left out,
    /// for the audit.
    pub async fn all(&self) -> Result<Vec<(String, String)>, StoreError> {
        sqlx::query_as(
            "SELECT idempotency_key, transaction_id FROM payment_charges WHERE voided = 0 \
             ORDER BY idempotency_key",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query("listing charges"))
    }

    /// How many charges are stored, voids left out (for audits and tests).
    pub async fn count(&self) -> Result<i64, StoreError> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM payment_charges WHERE voided = 0")
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::query("counting charges"))?;
        Ok(n)
    }
}

fn from_row(row: ChargeRow) -> Result<KeyRow, StoreError> {
    let (
        idempotency_key,
        transaction_id,
        currency_code,
        units,
        nanos,
        card_last_four,
        created_at_ms,
        voided,
    ) = row;
    if voided != 0 {
        return Ok(KeyRow::Void);
    }
    let amount = Money::new(currency_code, units, nanos)
        .map_err(|e| StoreError::corrupt("charge amount", e))?;
    Ok(KeyRow::Charge(StoredCharge {
        idempotency_key,
        charge: Charge {
            transaction_id,
            amount,
            card_last_four,
        },
        created_at_ms,
    }))
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
