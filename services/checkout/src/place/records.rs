//! Keeping track of an order: its record's state and warnings, the outcome
//! kept for retries, and the report (log, metric, span) of a placed order.

use boutique_platform::telemetry::trace::{KeyValue, annotate, attr};
use tokio::time::Instant;

use super::{Checkout, Placed};
use crate::{
    idempotency::{Entry, Fingerprint, Outcome, Slot},
    store::OrderState,
    validate::ValidRequest,
};

/// Where an order's outcome is kept for retries: the idempotency slot it
/// holds, under its fingerprint and cart.
#[derive(Debug)]
pub(super) struct Retries {
    pub(super) slot: Slot,
    pub(super) fingerprint: Fingerprint,
    pub(super) cart: Vec<(String, i64)>,
}

impl Retries {
    /// Keeps `outcome`: done only once money may have moved.
    pub(super) fn keep(&mut self, cart_emptied: bool, outcome: Outcome) {
        self.slot.keep(Entry {
            request: self.fingerprint,
            cart: self.cart.clone(),
            cart_emptied,
            outcome,
            at: Instant::now(),
        });
    }
}

impl Checkout {
    /// Logs a placed order, counts it, and puts its ids on the span.
    pub(super) fn report(&self, request: &ValidRequest, placed: &Placed) {
        let Placed {
            order_id,
            transaction_id,
            tracking_id,
            priced,
        } = placed;
        tracing::info!(
            order_id = %order_id,
            transaction_id = %transaction_id,
            tracking_id = %tracking_id,
            total = %priced.total,
            lines = priced.lines.len(),
            "Placed order."
        );
        self.metrics
            .order_placed(&request.currency, priced.total.approximate());
        annotate([
            KeyValue::new(attr::ORDER_ID, order_id.clone()),
            KeyValue::new(attr::TRACKING_ID, tracking_id.clone()),
            KeyValue::new(attr::TRANSACTION_ID, transaction_id.clone()),
            KeyValue::new(
                attr::ITEM_COUNT,
                i64::try_from(priced.lines.len()).unwrap_or(i64::MAX),
            ),
            KeyValue::new(attr::AMOUNT, priced.total.approximate()),
            KeyValue::new(attr::CURRENCY, request.currency.clone()),
            KeyValue::new(attr::USER_CURRENCY, request.currency.clone()),
        ]);
    }

    /// Moves the record along. A store failure must not undo an order whose
    /// card is charged, so it is logged (with the ids needed to repair the
    /// record) rather than returned.
    pub(super) async fn note_state(&self, order_id: &str, state: OrderState) {
        let name = state.name();
        let transaction_id = state.transaction_id().map(str::to_owned);
        if let Err(error) = self.orders.set_state(order_id, state).await {
            tracing::error!(
                order_id,
                transaction_id = transaction_id.as_deref().unwrap_or(""),
                state = name,
                %error,
                "Could not record the order's state."
            );
        }
    }

    /// A problem after shipment: the order stands, the problem is noted.
    pub(super) async fn warn(&self, order_id: &str, warning: String) {
        tracing::warn!(order_id, problem = %warning, "Order placed with a problem.");
        if let Err(error) = self.orders.add_warning(order_id, warning).await {
            tracing::error!(order_id, %error, "Could not record a warning on the order.");
        }
    }
}
