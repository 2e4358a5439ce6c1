//! The reconciler: finishes orders a checkout left unfinished.
//!
//! A checkout can stop anywhere: the process is killed, a dependency is down,
//! the answer to a charge is lost. Every step is on record (see `place`), so
//! on an interval, and once at start-up, the reconciler leases the orders
//! unchanged for longer than a checkout's own budget (the orders service
//! hands each to one replica at a time) and takes each one step further:
//!
//! | where the order is | what it does |
//! |---|---|
//! | created, not priced | abandons it (nothing was charged) |
//! | created and priced, or payment uncertain | settles the charge with payment's ledger (`SettleCharge`): charged → goes on as charged; none made → failed, and the key is void so a late charge is refused |
//! | charged | empties the cart, ships, then emails |
//! | shipped and on | empties the cart and sends the confirmation if either is not done |
//!
//! After `max_attempts` leases an order whose money is at stake and that
//! still cannot be finished (an upstream payment service that cannot settle,
//! shipping down for good) has its cart emptied and is moved to
//! `needs_attention`, for a person to ship by hand or refund: it never stays
//! in an intermediate state. Each action is counted in
//! `boutique_reconciler_actions_total{action}`.

use std::{sync::Arc, time::Duration};

use boutique_platform::{Telemetry, call::CallContext, clock::millis, telemetry::Counter};
use boutique_proto::{
    CartItem,
    boutique::{
        orders::v1::{self as pb, LeaseUnsettledOrdersRequest, OrderState as State},
        payment::v1::SettleChargeRequest,
    },
};
use tokio_util::sync::CancellationToken;
use tonic::Status;

use crate::place::{Checkout, replay::recorded_result};

/// What the reconciler did to an order, as counted.
#[derive(Debug, Clone, Copy)]
enum Action {
    Settled,
    Voided,
    Shipped,
    Emailed,
    CartEmptied,
    Abandoned,
    NeedsAttention,
}

impl Action {
    const ALL: [Self; 7] = [
        Self::Settled,
        Self::Voided,
        Self::Shipped,
        Self::Emailed,
        Self::CartEmptied,
        Self::Abandoned,
        Self::NeedsAttention,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::Settled => "settled",
            Self::Voided => "voided",
            Self::Shipped => "shipped",
            Self::Emailed => "emailed",
            Self::CartEmptied => "cart_emptied",
            Self::Abandoned => "abandoned",
            Self::NeedsAttention => "needs_attention",
        }
    }
}

/// The reconciler of one checkout replica.
#[derive(Debug, Clone)]
pub(crate) struct Reconciler {
    pub(crate) checkout: Arc<Checkout>,
    /// How often it looks.
    pub(crate) interval: Duration,
    /// Orders are left to a person after this many leases.
    pub(crate) max_attempts: u32,
    actions: Counter,
}

impl Reconciler {
    pub(crate) fn new(
        checkout: Arc<Checkout>,
        interval: Duration,
        max_attempts: u32,
        telemetry: &Telemetry,
    ) -> Self {
        let actions = telemetry.metrics().counter(
            "boutique_reconciler_actions_total",
            "What the checkout reconciler did to unfinished orders, by action.",
            &["action"],
        );
        for action in Action::ALL {
            actions.start_at_zero(&[action.label()]);
        }
        Self {
            checkout,
            interval,
            max_attempts,
            actions,
        }
    }

    fn count(&self, action: Action) {
        self.actions.inc(&[action.label()]);
    }

    /// Reconciles now and then every `interval`, until `stop`.
    pub(crate) async fn run(self, stop: CancellationToken) {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = self.round() => {}
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(self.interval) => {}
            }
        }
    }

    /// One round: leases what is unfinished and takes each a step further;
    /// how many orders it leased.
    pub(crate) async fn round(&self) -> usize {
        let budget = self.checkout.post_charge_timeout;
        let calls = CallContext::with_budget(budget);
        let mut client = self.checkout.clients.orders.clone();
        let message = LeaseUnsettledOrdersRequest {
            older_than_ms: millis(budget),
            // Long enough for every order of the round to be worked on.
            lease_ms: millis(budget) * 4,
            limit: 100,
            max_attempts: self.max_attempts,
        };
        let leased = calls
            .call("orders", message, move |r| async move {
                client.lease_unsettled_orders(r).await
            })
            .await;
        let orders = match leased {
            Ok(leased) => leased.orders,
            Err(status) => {
                tracing::warn!(error = %status.message(), "The reconciler could not reach the orders service.");
                return 0;
            }
        };
        let n = orders.len();
        for order in orders {
            let order_id = order.id.clone();
            tracing::info!(order_id = %order_id, attempts = order.reconcile_attempts, "Reconciling an unfinished order.");
            if let Err(status) = self.finish(order).await {
                tracing::warn!(order_id = %order_id, error = %status.message(), "Could not finish the order this round.");
            }
        }
        n
    }

    /// Takes `order` as far as it can go now.
    async fn finish(&self, mut order: pb::Order) -> Result<(), Status> {
        let calls = CallContext::with_budget(self.checkout.post_charge_timeout);
        let out_of_tries = order.reconcile_attempts >= self.max_attempts;
        loop {
            let state = State::try_from(order.state).unwrap_or(State::Unspecified);
            match state {
                State::Created if order.total.is_none() => {
                    self.checkout.abandon(&order.id).await;
                    self.count(Action::Abandoned);
                    return Ok(());
                }
                State::Created | State::PaymentUncertain => {
                    match self.settle(&calls, &order).await {
                        Ok(Some(next)) => order = next,
                        Ok(None) => return Ok(()),
                        Err(status) if out_of_tries => {
                            let reason = format!(
                                "the charge could not be settled after {} tries: {}",
                                order.reconcile_attempts,
                                status.message()
                            );
                            if state == State::Created {
                                order = self
                                    .advance(
                                        &calls,
                                        &order,
                                        State::PaymentUncertain,
                                        None,
                                        None,
                                        &reason,
                                    )
                                    .await?;
                            }
                            return self.give_up(&calls, &order, &reason).await;
                        }
                        Err(status) => {
                            if state == State::Created {
                                let reason =
                                    format!("the charge is being checked: {}", status.message());
                                self.advance(
                                    &calls,
                                    &order,
                                    State::PaymentUncertain,
                                    None,
                                    None,
                                    &reason,
                                )
                                .await?;
                            }
                            return Err(status);
                        }
                    }
                }
                State::Charged => {
                    self.empty_cart(&calls, &mut order).await?;
                    let items = cart_items(&order);
                    let address = order.shipping_address.clone().unwrap_or_default();
                    match self
                        .checkout
                        .request_shipment(&calls, &address, &items)
                        .await
                    {
                        Ok(tracking_id) => {
                            order = self
                                .advance(
                                    &calls,
                                    &order,
                                    State::Shipped,
                                    None,
                                    Some(&tracking_id),
                                    "",
                                )
                                .await?;
                            self.count(Action::Shipped);
                        }
                        Err(status) if out_of_tries => {
                            let reason = format!(
                                "charged but not shipped after {} tries: {}",
                                order.reconcile_attempts,
                                status.message()
                            );
                            return self.give_up(&calls, &order, &reason).await;
                        }
                        Err(status) => return Err(status),
                    }
                }
                State::Shipped | State::Dispatched | State::Delivered => {
                    self.empty_cart(&calls, &mut order).await?;
                    if !order.confirmation_sent {
                        let result = recorded_result(&order);
                        self.checkout
                            .send_confirmation(&calls, &order.email, &result)
                            .await?;
                        self.checkout
                            .note(&calls, &order.id, false, true, None)
                            .await;
                        self.count(Action::Emailed);
                    }
                    return Ok(());
                }
                _ => return Ok(()),
            }
        }
    }

    /// Settles the charge of an order that may have been charged: the order
    /// moved to charged (to go on with), or `None` once it ended with
    /// nothing charged.
    async fn settle(
        &self,
        calls: &CallContext,
        order: &pb::Order,
    ) -> Result<Option<pb::Order>, Status> {
        let mut client = self.checkout.clients.ledger.clone();
        let message = SettleChargeRequest {
            idempotency_key: order.id.clone(),
        };
        let settled = calls
            .call("payment", message, move |r| async move {
                client.settle_charge(r).await
            })
            .await?;
        if settled.voided || settled.transaction_id.is_empty() {
            let reason = "the charge never went through; nothing was charged";
            self.advance(calls, order, State::Failed, None, None, reason)
                .await?;
            self.count(Action::Voided);
            tracing::info!(order_id = %order.id, "Settled: nothing was charged; the order failed.");
            return Ok(None);
        }
        let charged = self
            .advance(
                calls,
                order,
                State::Charged,
                Some(&settled.transaction_id),
                None,
                "",
            )
            .await?;
        self.count(Action::Settled);
        tracing::info!(order_id = %order.id, transaction_id = %settled.transaction_id, "Settled: the card was charged; finishing the order.");
        Ok(Some(charged))
    }

    /// Empties the order's cart unless that is done, and notes it.
    async fn empty_cart(&self, calls: &CallContext, order: &mut pb::Order) -> Result<(), Status> {
        if order.cart_emptied {
            return Ok(());
        }
        self.checkout.empty_cart(calls, &order.cart_id).await?;
        self.checkout
            .note(calls, &order.id, true, false, None)
            .await;
        order.cart_emptied = true;
        self.count(Action::CartEmptied);
        Ok(())
    }

    /// Hands the order to a person: its cart emptied (money may have moved,
    /// so the cart must not be charged again), then `needs_attention`.
    async fn give_up(
        &self,
        calls: &CallContext,
        order: &pb::Order,
        reason: &str,
    ) -> Result<(), Status> {
        let mut order = order.clone();
        self.empty_cart(calls, &mut order).await?;
        self.advance(calls, &order, State::NeedsAttention, None, None, reason)
            .await?;
        self.count(Action::NeedsAttention);
        tracing::error!(order_id = %order.id, reason, "An order needs a person: ship it by hand or refund it.");
        Ok(())
    }

    async fn advance(
        &self,
        calls: &CallContext,
        order: &pb::Order,
        to: State,
        transaction_id: Option<&str>,
        tracking_id: Option<&str>,
        reason: &str,
    ) -> Result<pb::Order, Status> {
        self.checkout
            .advance(calls, &order.id, to, transaction_id, tracking_id, reason)
            .await
    }
}

/// The order's lines as the cart items shipping expects.
fn cart_items(order: &pb::Order) -> Vec<CartItem> {
    order
        .lines
        .iter()
        .map(|line| CartItem {
            product_id: line.product_id.clone(),
            quantity: line.quantity,
        })
        .collect()
}
