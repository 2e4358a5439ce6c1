//! Charges by idempotency key, so a resent charge is not charged again.
//!
//! A caller that did not hear the answer to a charge (a deadline, a dropped
//! connection, a crash) resends it with the same `idempotency-key` metadata;
//! the ledger answers with the first charge's transaction id instead of
//! charging again. A key is bound to what it charged (amount, currency and the
//! card's last four): the same key with a different charge is refused, since
//! it means a caller bug, not a retry. Charges without a key are not kept (an
//! upstream caller sends none).
//!
//! A caller that never heard back at all (it crashed) settles the key later
//! ([`Ledger::settle`], served as `boutique.payment.v1.PaymentLedger`): the
//! charge made under it, or, if none was, a void, after which a charge still
//! on its way with that key is refused ([`Recorded::Voided`]). Either way the
//! key's answer is fixed.
//!
//! Without `DATABASE_URL` the ledger is in memory: one replica's view, kept
//! for [`MEMORY_RETENTION`]. With it, keys live in the database's
//! `payment_charges` table, so every replica answers a resent charge alike and
//! a restart forgets nothing.

use std::{fmt, sync::Arc, time::Duration};

pub use boutique_store::Charge;
use boutique_store::ChargeLedger;
use moka::future::Cache;

/// The metadata key a caller puts the idempotency key in.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The longest key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 200;

/// How long the memory ledger remembers a key: far longer than any retry.
pub const MEMORY_RETENTION: Duration = Duration::from_secs(24 * 3600);

/// How many keys the memory ledger holds at most (the oldest go first).
const MEMORY_CAPACITY: u64 = 1_000_000;

/// What a key holds.
#[derive(Debug)]
enum Entry {
    Charge(Charge),
    Void,
}

/// True when `b` charges the same amount to the same card as `a`.
fn same_charge(a: &Charge, b: &Charge) -> bool {
    a.amount == b.amount && a.card_last_four == b.card_last_four
}

/// What a resend of `charge` gets, given the `first` charge of its key.
fn replay(first: Charge, charge: &Charge) -> Recorded {
    if same_charge(&first, charge) {
        Recorded::Replay(first)
    } else {
        Recorded::Conflict
    }
}

/// What the ledger made of a charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// The key is new: the charge is recorded and goes through.
    New,
    /// The key was seen with this same charge: answer with its transaction.
    Replay(Charge),
    /// The key was seen with a different charge.
    Conflict,
    /// The key was voided by a settle: nothing may be charged under it.
    Voided,
}

/// What settling a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// A charge was made under it.
    Charged(Charge),
    /// None was, and now none can be.
    Voided,
}

/// Why the ledger could not answer.
#[derive(Debug, thiserror::Error)]
#[error("the charge ledger failed: {0}")]
pub struct LedgerError(pub String);

/// Remembers charges by idempotency key.
#[tonic::async_trait]
pub trait Ledger: fmt::Debug + Send + Sync + 'static {
    /// Records `charge` under `key` unless the key is known, atomically: of
    /// any number of concurrent calls with one key, exactly one gets `New`.
    async fn record(&self, key: &str, charge: Charge) -> Result<Recorded, LedgerError>;

    /// The charge made under `key`, or a void that refuses any later one,
    /// atomically with respect to [`Ledger::record`].
    async fn settle(&self, key: &str) -> Result<Settled, LedgerError>;
}

/// The ledger in process memory: one replica's view, kept for a day.
#[derive(Clone)]
pub struct MemoryLedger {
    charges: Cache<String, Arc<Entry>>,
}

impl fmt::Debug for MemoryLedger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryLedger")
            .field("keys", &self.charges.entry_count())
            .finish()
    }
}

impl MemoryLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self {
            charges: Cache::builder()
                .max_capacity(MEMORY_CAPACITY)
                .time_to_live(MEMORY_RETENTION)
                .build(),
        }
    }
}

impl Default for MemoryLedger {
    fn default() -> Self {
        Self::new()
    }
}

#[tonic::async_trait]
impl Ledger for MemoryLedger {
    async fn record(&self, key: &str, charge: Charge) -> Result<Recorded, LedgerError> {
        let entry = self
            .charges
            .entry_by_ref(key)
            .or_insert_with(async { Arc::new(Entry::Charge(charge.clone())) })
            .await;
        if entry.is_fresh() {
            return Ok(Recorded::New);
        }
        Ok(match entry.value().as_ref() {
            Entry::Charge(first) => replay(first.clone(), &charge),
            Entry::Void => Recorded::Voided,
        })
    }

    async fn settle(&self, key: &str) -> Result<Settled, LedgerError> {
        let entry = self
            .charges
            .entry_by_ref(key)
            .or_insert_with(async { Arc::new(Entry::Void) })
            .await;
        Ok(match entry.value().as_ref() {
            Entry::Charge(charge) => Settled::Charged(charge.clone()),
            Entry::Void => Settled::Voided,
        })
    }
}

/// The ledger in the database (`DATABASE_URL`): shared by every replica.
#[derive(Debug, Clone)]
pub struct SqlLedger(ChargeLedger);

impl SqlLedger {
    /// The ledger kept in `charges`.
    pub fn new(charges: ChargeLedger) -> Self {
        Self(charges)
    }
}

#[tonic::async_trait]
impl Ledger for SqlLedger {
    async fn record(&self, key: &str, charge: Charge) -> Result<Recorded, LedgerError> {
        let recorded = self
            .0
            .record_charge(key, &charge)
            .await
            .map_err(|e| LedgerError(format!("{e:#}")))?;
        Ok(match recorded {
            boutique_store::Recorded::Inserted(_) => Recorded::New,
            boutique_store::Recorded::Existing(first) => replay(first.charge, &charge),
            boutique_store::Recorded::Voided => Recorded::Voided,
        })
    }

    async fn settle(&self, key: &str) -> Result<Settled, LedgerError> {
        let settled = self
            .0
            .settle(key)
            .await
            .map_err(|e| LedgerError(format!("{e:#}")))?;
        Ok(match settled {
            boutique_store::Settled::Charged(stored) => Settled::Charged(stored.charge),
            boutique_store::Settled::Voided => Settled::Voided,
        })
    }
}

/// Checks a key's shape: printable ASCII, 1 to [`MAX_KEY_LEN`] bytes.
pub fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(format!(
            "{IDEMPOTENCY_KEY} must be 1 to {MAX_KEY_LEN} characters"
        ));
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "{IDEMPOTENCY_KEY} may hold only printable ASCII characters"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use boutique_money::Money;

    fn charge(id: &str, units: i64) -> Charge {
        Charge {
            transaction_id: id.to_owned(),
            amount: Money::new("USD", units, 0).unwrap(),
            card_last_four: "4242".to_owned(),
        }
    }

    #[tokio::test]
    async fn the_first_charge_of_a_key_wins_and_is_replayed() {
        let ledger = MemoryLedger::new();
        assert_eq!(
            ledger.record("k", charge("t1", 5)).await.unwrap(),
            Recorded::New
        );
        assert_eq!(
            ledger.record("k", charge("t2", 5)).await.unwrap(),
            Recorded::Replay(charge("t1", 5))
        );
        assert_eq!(
            ledger.record("k", charge("t3", 6)).await.unwrap(),
            Recorded::Conflict
        );
        assert_eq!(
            ledger.record("other", charge("t4", 5)).await.unwrap(),
            Recorded::New
        );
    }

    #[tokio::test]
    async fn concurrent_charges_with_one_key_record_one() {
        let ledger = MemoryLedger::new();
        let attempts = (0..64).map(|n| {
            let ledger = ledger.clone();
            tokio::spawn(async move { ledger.record("k", charge(&format!("t{n}"), 5)).await })
        });
        let mut new = 0;
        let mut replayed = std::collections::HashSet::new();
        for attempt in attempts {
            match attempt.await.unwrap().unwrap() {
                Recorded::New => new += 1,
                Recorded::Replay(first) => {
                    replayed.insert(first.transaction_id);
                }
                Recorded::Conflict | Recorded::Voided => panic!("same charge, no conflict"),
            }
        }
        assert_eq!(new, 1);
        assert_eq!(replayed.len(), 1, "every retry sees the one first charge");
    }

    #[tokio::test]
    async fn settling_fixes_a_keys_answer() {
        let ledger = MemoryLedger::new();
        ledger.record("paid", charge("t1", 5)).await.unwrap();
        assert_eq!(
            ledger.settle("paid").await.unwrap(),
            Settled::Charged(charge("t1", 5))
        );
        assert_eq!(ledger.settle("lost").await.unwrap(), Settled::Voided);
        assert_eq!(
            ledger.record("lost", charge("t2", 5)).await.unwrap(),
            Recorded::Voided
        );
    }

    #[test]
    fn keys_are_checked() {
        assert!(check_key("order-1234").is_ok());
        assert!(check_key("").is_err());
        assert!(check_key(&"k".repeat(MAX_KEY_LEN + 1)).is_err());
        assert!(check_key("with space").is_err());
        assert!(check_key("naïve").is_err());
    }
}
