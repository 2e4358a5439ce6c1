//! Order records: what happened to every order, so a charged order is never lost.
//!
//! Upstream charged the card and then forgot the order if shipping failed.
//! Here a record is written before the charge and moved through its states as
//! each step finishes, so an order that fails after the charge is still on
//! record, with the transaction id, for someone to follow up.
//!
//! Records never hold a card number: at most its last four digits.

use std::{
    collections::{HashMap, VecDeque},
    fmt,
    sync::{Mutex, MutexGuard, PoisonError},
    time::SystemTime,
};

use boutique_money::Money;
use boutique_proto::Address;

/// Where an order stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderState {
    /// Priced and about to be charged.
    Pending,
    /// The payment service refused the card (nothing was charged).
    PaymentDeclined {
        /// The payment service's reason, as the shopper saw it.
        reason: String,
    },
    /// The payment service could not be asked or failed (nothing was charged).
    PaymentFailed {
        /// What went wrong.
        reason: String,
    },
    /// The charge ran out of time: it may or may not have gone through, so
    /// the order needs follow-up and a retry must not charge again.
    PaymentUncertain {
        /// What went wrong.
        reason: String,
    },
    /// The card was charged; shipping comes next.
    Charged {
        /// The payment service's transaction id.
        transaction_id: String,
    },
    /// The card was charged but the order could not be shipped.
    ShippingFailedAfterCharge {
        /// The payment service's transaction id.
        transaction_id: String,
        /// Why shipping failed.
        reason: String,
    },
    /// Charged and shipped; the cart and the email come next.
    Shipped {
        /// The payment service's transaction id.
        transaction_id: String,
        /// The shipping service's tracking id.
        tracking_id: String,
    },
    /// Done: charged, shipped and confirmed to the shopper (possibly with
    /// warnings on the record, e.g. the email could not be sent).
    Completed {
        /// The payment service's transaction id.
        transaction_id: String,
        /// The shipping service's tracking id.
        tracking_id: String,
    },
}

impl OrderState {
    /// A short name for logs and listings.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::PaymentDeclined { .. } => "payment_declined",
            Self::PaymentFailed { .. } => "payment_failed",
            Self::PaymentUncertain { .. } => "payment_uncertain",
            Self::Charged { .. } => "charged",
            Self::ShippingFailedAfterCharge { .. } => "shipping_failed_after_charge",
            Self::Shipped { .. } => "shipped",
            Self::Completed { .. } => "completed",
        }
    }

    /// The transaction id, once the card is known to be charged.
    pub fn transaction_id(&self) -> Option<&str> {
        match self {
            Self::Charged { transaction_id }
            | Self::ShippingFailedAfterCharge { transaction_id, .. }
            | Self::Shipped { transaction_id, .. }
            | Self::Completed { transaction_id, .. } => Some(transaction_id),
            _ => None,
        }
    }

    /// True once the card is known to be charged.
    pub fn is_charged(&self) -> bool {
        self.transaction_id().is_some()
    }

    /// True for orders a person must look at: money may have moved without
    /// the order going through.
    pub fn needs_follow_up(&self) -> bool {
        matches!(
            self,
            Self::PaymentUncertain { .. } | Self::ShippingFailedAfterCharge { .. }
        )
    }

    /// True when nothing more will happen to the order by itself.
    pub fn is_final(&self) -> bool {
        !matches!(
            self,
            Self::Pending | Self::Charged { .. } | Self::Shipped { .. }
        )
    }
}

impl fmt::Display for OrderState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine {
    /// The catalog id.
    pub product_id: String,
    /// How many.
    pub quantity: i32,
    /// The price of one, in the order currency.
    pub unit_cost: Money,
}

/// A state and when the order reached it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChange {
    /// When.
    pub at: SystemTime,
    /// The state reached.
    pub state: OrderState,
}

/// Everything kept about one order. No card number: at most its last four.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderRecord {
    /// The order id given to the shopper.
    pub order_id: String,
    /// The shopper (session) id.
    pub user_id: String,
    /// Where the confirmation goes.
    pub email: String,
    /// Where the order goes.
    pub address: Address,
    /// What was ordered, at unit prices in the order currency.
    pub lines: Vec<OrderLine>,
    /// The shipping cost in the order currency.
    pub shipping_cost: Money,
    /// What the card is charged: shipping plus every line.
    pub total: Money,
    /// The last four digits of the card, if the number had enough digits.
    pub card_last_four: Option<String>,
    /// The current state.
    pub state: OrderState,
    /// Every state the order went through, oldest first (the last is `state`).
    pub history: Vec<StateChange>,
    /// Problems that did not stop the order (the cart was not emptied, the
    /// email was not sent).
    pub warnings: Vec<String>,
    /// When the record was created.
    pub created_at: SystemTime,
}

impl OrderRecord {
    /// A new record in the `Pending` state.
    #[allow(clippy::too_many_arguments)] // Every field is needed; a builder would only hide that.
    pub fn pending(
        order_id: String,
        user_id: String,
        email: String,
        address: Address,
        lines: Vec<OrderLine>,
        shipping_cost: Money,
        total: Money,
        card_last_four: Option<String>,
    ) -> Self {
        let now = SystemTime::now();
        Self {
            order_id,
            user_id,
            email,
            address,
            lines,
            shipping_cost,
            total,
            card_last_four,
            state: OrderState::Pending,
            history: vec![StateChange {
                at: now,
                state: OrderState::Pending,
            }],
            warnings: Vec::new(),
            created_at: now,
        }
    }
}

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A record with this id already exists.
    #[error("order {0} is already recorded")]
    Duplicate(String),
    /// No record has this id.
    #[error("order {0} is not recorded")]
    NotFound(String),
    /// The store itself failed (for stores that can).
    #[error("order store failed: {0}")]
    Backend(String),
}

/// Keeps order records. The memory store is the only one for now; persisted
/// stores implement the same trait later.
#[tonic::async_trait]
pub trait OrderStore: fmt::Debug + Send + Sync + 'static {
    /// Adds a new record.
    async fn insert(&self, record: OrderRecord) -> Result<(), StoreError>;

    /// Moves an order to `state`, appending it to the history.
    async fn set_state(&self, order_id: &str, state: OrderState) -> Result<(), StoreError>;

    /// Notes a problem that did not stop the order.
    async fn add_warning(&self, order_id: &str, warning: String) -> Result<(), StoreError>;

    /// One record.
    async fn get(&self, order_id: &str) -> Result<Option<OrderRecord>, StoreError>;

    /// Every record kept, oldest first.
    async fn list(&self) -> Result<Vec<OrderRecord>, StoreError>;
}

/// How many records the memory store keeps by default before it forgets the
/// oldest settled ones.
pub const DEFAULT_MEMORY_CAPACITY: usize = 100_000;

/// Order records in process memory.
///
/// Memory is bounded: past `capacity` records the oldest *settled* record
/// (completed, declined, failed before a charge) is dropped. Records that need
/// follow-up or are still in progress are never dropped, which is the point of
/// keeping them.
#[derive(Debug)]
pub struct MemoryOrderStore {
    capacity: usize,
    inner: Mutex<Records>,
}

#[derive(Debug, Default)]
struct Records {
    by_id: HashMap<String, OrderRecord>,
    /// Ids in insertion order, for listing and for dropping the oldest.
    order: VecDeque<String>,
}

impl MemoryOrderStore {
    /// A store with [`DEFAULT_MEMORY_CAPACITY`].
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_MEMORY_CAPACITY)
    }

    /// A store that keeps about `capacity` records (more if that many need
    /// follow-up).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: Mutex::new(Records::default()),
        }
    }

    fn records(&self) -> MutexGuard<'_, Records> {
        // A panic while holding the lock cannot leave a half-written record
        // (every change is a single insert or field update), so the data is
        // still good to use.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for MemoryOrderStore {
    fn default() -> Self {
        Self::new()
    }
}

impl Records {
    fn make_room(&mut self, capacity: usize) {
        while self.by_id.len() > capacity {
            let settled = self.order.iter().position(|id| {
                self.by_id
                    .get(id)
                    .is_none_or(|r| r.state.is_final() && !r.state.needs_follow_up())
            });
            let Some(index) = settled else { return };
            if let Some(id) = self.order.remove(index) {
                self.by_id.remove(&id);
            }
        }
    }

    fn get_mut(&mut self, order_id: &str) -> Result<&mut OrderRecord, StoreError> {
        self.by_id
            .get_mut(order_id)
            .ok_or_else(|| StoreError::NotFound(order_id.to_owned()))
    }
}

#[tonic::async_trait]
impl OrderStore for MemoryOrderStore {
    async fn insert(&self, record: OrderRecord) -> Result<(), StoreError> {
        let mut records = self.records();
        if records.by_id.contains_key(&record.order_id) {
            return Err(StoreError::Duplicate(record.order_id));
        }
        records.order.push_back(record.order_id.clone());
        records.by_id.insert(record.order_id.clone(), record);
        records.make_room(self.capacity);
        Ok(())
    }

    async fn set_state(&self, order_id: &str, state: OrderState) -> Result<(), StoreError> {
        let mut records = self.records();
        let record = records.get_mut(order_id)?;
        record.history.push(StateChange {
            at: SystemTime::now(),
            state: state.clone(),
        });
        record.state = state;
        Ok(())
    }

    async fn add_warning(&self, order_id: &str, warning: String) -> Result<(), StoreError> {
        self.records().get_mut(order_id)?.warnings.push(warning);
        Ok(())
    }

    async fn get(&self, order_id: &str) -> Result<Option<OrderRecord>, StoreError> {
        Ok(self.records().by_id.get(order_id).cloned())
    }

    async fn list(&self) -> Result<Vec<OrderRecord>, StoreError> {
        let records = self.records();
        Ok(records
            .order
            .iter()
            .filter_map(|id| records.by_id.get(id).cloned())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> OrderRecord {
        let usd = Money::new("USD", 1, 0).unwrap();
        OrderRecord::pending(
            id.into(),
            "u".into(),
            "a@b.c".into(),
            Address::default(),
            vec![],
            usd.clone(),
            usd,
            Some("0454".into()),
        )
    }

    #[tokio::test]
    async fn keeps_states_in_order() {
        let store = MemoryOrderStore::new();
        store.insert(record("a")).await.unwrap();
        assert!(matches!(
            store.insert(record("a")).await,
            Err(StoreError::Duplicate(_))
        ));
        store
            .set_state(
                "a",
                OrderState::Charged {
                    transaction_id: "t".into(),
                },
            )
            .await
            .unwrap();
        store.add_warning("a", "email".into()).await.unwrap();
        let a = store.get("a").await.unwrap().unwrap();
        assert_eq!(a.state.transaction_id(), Some("t"));
        assert_eq!(a.history.len(), 2);
        assert_eq!(a.warnings, ["email"]);
        assert!(matches!(
            store.set_state("b", OrderState::Pending).await,
            Err(StoreError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn drops_only_settled_records_when_full() {
        let store = MemoryOrderStore::with_capacity(2);
        let failed = OrderState::ShippingFailedAfterCharge {
            transaction_id: "t".into(),
            reason: "down".into(),
        };
        let done = OrderState::Completed {
            transaction_id: "t".into(),
            tracking_id: "x".into(),
        };
        store.insert(record("follow-up")).await.unwrap();
        store.set_state("follow-up", failed).await.unwrap();
        store.insert(record("done")).await.unwrap();
        store.set_state("done", done).await.unwrap();
        store.insert(record("in-progress")).await.unwrap();
        let ids: Vec<String> = store
            .list()
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.order_id)
            .collect();
        assert_eq!(ids, ["follow-up", "in-progress"]);
        // Nothing settled is left to drop, so the store grows past capacity.
        store.insert(record("another")).await.unwrap();
        assert_eq!(store.list().await.unwrap().len(), 3);
    }
}
