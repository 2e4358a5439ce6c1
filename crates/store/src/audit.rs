//! The ledger check: payment's charges against the orders, one to one.
//!
//! In the shop every charge is made by checkout under its order's id, so the
//! two tables must agree: every charge (voids aside) belongs to an order that
//! records it as its transaction, and every order with a transaction has that
//! charge. A charge without an order is money taken for nothing on record; an
//! order without its charge claims money that was never taken. The audit also
//! counts orders left in an intermediate state, which the reconciler should
//! have finished. `boutique audit` prints it; the crash tests assert it.

use std::collections::BTreeMap;

use crate::{ChargeLedger, Database, OrderBook, StoreError, orders::OrderState};

/// What the audit found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Audit {
    /// Charges in the ledger (voids left out).
    pub charges: usize,
    /// Orders with a transaction id.
    pub charged_orders: usize,
    /// `(idempotency key, transaction id)` of charges no order records.
    pub charges_without_order: Vec<(String, String)>,
    /// `(order id, transaction id)` of orders whose charge is not in the ledger.
    pub orders_without_charge: Vec<(String, String)>,
    /// `(order id, order's transaction id, ledger's transaction id)`.
    pub mismatched: Vec<(String, String, String)>,
    /// Orders in each intermediate state, unchanged for the given time.
    pub unsettled: Vec<(OrderState, i64)>,
}

impl Audit {
    /// True when charges and orders match one to one.
    pub fn balanced(&self) -> bool {
        self.charges_without_order.is_empty()
            && self.orders_without_charge.is_empty()
            && self.mismatched.is_empty()
    }

    /// True when no order sits in an intermediate state.
    pub fn settled(&self) -> bool {
        self.unsettled.iter().all(|(_, n)| *n == 0)
    }
}

/// Audits `db`, whose `payment_charges` and order tables are both there (one
/// database for the shop, as `boutique all` and the PostgreSQL deployment
/// have it). Orders unchanged for `unsettled_after_ms` count as unsettled.
pub async fn audit(db: &Database, unsettled_after_ms: i64) -> Result<Audit, StoreError> {
    let charges: BTreeMap<String, String> =
        ChargeLedger::new(db).all().await?.into_iter().collect();
    let book = OrderBook::new(db);
    let orders: BTreeMap<String, String> = book.charged().await?.into_iter().collect();
    let mut report = Audit {
        charges: charges.len(),
        charged_orders: orders.len(),
        unsettled: book.stuck(unsettled_after_ms).await?,
        ..Audit::default()
    };
    for (key, transaction) in &charges {
        match orders.get(key) {
            None => report
                .charges_without_order
                .push((key.clone(), transaction.clone())),
            Some(recorded) if recorded != transaction => {
                report
                    .mismatched
                    .push((key.clone(), recorded.clone(), transaction.clone()));
            }
            Some(_) => {}
        }
    }
    for (order, transaction) in &orders {
        if !charges.contains_key(order) {
            report
                .orders_without_charge
                .push((order.clone(), transaction.clone()));
        }
    }
    Ok(report)
}
