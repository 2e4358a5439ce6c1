//! PlaceOrder, step by step.
//!
//! [`Checkout::place`] is the order of operations; each step is a method here:
//!
//! 1. `begin`: BeginOrder at the orders service. It claims the cart before the
//!    cart is read (one order per cart at a time, across replicas) and
//!    records the idempotency key; a key seen before answers with the outcome
//!    of the order it opened (see `replay`).
//! 2. `read_cart`: GetCart. An empty cart is refused (upstream charged $0 for
//!    it), unless the shopper's last order was placed from it moments ago:
//!    then this is a retry, answered with that order.
//! 3. `quote`: price every line and the shipping (see `pricing`), then
//!    PriceOrder: the order is on record with its total before any charge.
//!    A failure in steps 2-3 abandons the order (nothing was charged).
//! 4. `charge`: Charge the total with the order id as `idempotency-key`. A
//!    refusal or an unclear answer ends the order there (declined, failed,
//!    payment uncertain).
//! 5. `settle_cart`: EmptyCart right after the charge, so a charged cart can
//!    never be charged again.
//! 6. `ship`: ShipOrder. If it fails, the order moves to charged, noting what
//!    was done, and the shopper is told the card was charged.
//! 7. `confirm`: SendOrderConfirmation; then one write records the whole
//!    placed order: charged (at the charge's time) and shipped, the cart
//!    emptied (which frees the cart's claim), the confirmation sent, any
//!    problem on the way.
//!
//! Steps 5-7 run on a time budget of their own ([`crate::Config`]'s
//! `post_charge_timeout`), not the caller's deadline. Recording the charge
//! with the last step instead of right away saves two writes per order and
//! loses nothing: the charge is in payment's ledger under the order's id, and
//! an order left priced (a crash, an outage of the order store) is settled
//! from the ledger and finished by the reconciler (`crate::reconcile`). The
//! single downstream calls are in `calls`, the order-service calls in
//! `records`.

mod calls;
pub(crate) mod pricing;
mod records;
pub(crate) mod replay;

use std::{sync::Arc, time::Duration};

use boutique_flags::Flags;
use boutique_platform::{RpcError, call::CallContext, clock::now_ms};
use boutique_proto::{CartItem, OrderResult, boutique::orders::v1::OrderState as State, reasons};
use tonic::Code;

use crate::{
    downstream::Clients,
    metrics::{CheckoutMetrics, CheckoutStage},
    validate::ValidRequest,
};
use calls::ChargeFailure;
use pricing::Priced;

/// What the order steps share across requests.
#[derive(Debug)]
pub(crate) struct Checkout {
    pub(crate) clients: Clients,
    pub(crate) metrics: CheckoutMetrics,
    /// How many times one charge is sent at most (see `request_charge`).
    pub(crate) charge_attempts: u32,
    /// The time budget of the steps after the charge.
    pub(crate) post_charge_timeout: Duration,
    /// The failure flags (`paymentUnreachable`, at the charge).
    pub(crate) flags: Flags,
}

/// One PlaceOrder request, validated.
#[derive(Debug)]
pub(crate) struct Attempt {
    pub(crate) calls: CallContext,
    pub(crate) request: ValidRequest,
    /// The client's `idempotency-key`, if it sent one.
    pub(crate) key: Option<String>,
}

/// How recent the shopper's last order must be for an empty cart to count
/// as a retry of it (the first attempt emptied the cart).
const RETRY_WINDOW_MS: i64 = 10 * 60 * 1000;

impl Checkout {
    /// Counts a failed PlaceOrder at `stage` and passes the error on.
    fn failed(&self, stage: CheckoutStage, error: RpcError) -> RpcError {
        self.metrics.checkout_failed(stage);
        error
    }

    /// Places the order, or answers with the outcome of the order this
    /// request repeats.
    pub(crate) async fn place(self: Arc<Self>, attempt: Attempt) -> Result<OrderResult, RpcError> {
        let Attempt {
            calls,
            request,
            key,
        } = attempt;
        let order = match self.begin(&calls, &request, key.as_deref()).await? {
            records::Opened::New(order) => order,
            records::Opened::Replay(order) => {
                tracing::info!(order_id = %order.id, "Answered a repeated request with its order.");
                return replay::outcome(&order);
            }
        };
        let order_id = order.id;
        let cart = match self.read_cart(&calls, &request, &order_id).await? {
            Cart::Items(cart) => cart,
            Cart::JustOrdered(result) => return result,
        };
        let priced = match self.quote(&calls, &cart, &request).await {
            Ok(priced) => priced,
            Err(error) => {
                self.abandon(&order_id).await;
                return Err(error);
            }
        };
        self.record_price(&order_id, &priced).await?;
        let charge = self.charge(&calls, &order_id, &priced, &request).await?;
        // From here the card is charged: the rest gets its own budget, so
        // nothing depends on the caller.
        let after = CallContext::with_budget(self.post_charge_timeout);
        let mut placed = records::Placed::new(charge);
        placed.cart_emptied = self
            .settle_cart(&after, &order_id, &request.user_id, &mut placed)
            .await;
        let tracking_id = self
            .ship(&after, &order_id, &request, &cart, &placed)
            .await?;
        let result = replay::order_result(&order_id, &tracking_id, &request.address, &priced);
        placed.confirmation_sent = self
            .confirm(&after, &order_id, &request.email, &result, &mut placed)
            .await;
        let transaction_id = placed.charge.transaction_id.clone();
        self.record_placed(&after, &order_id, &tracking_id, placed)
            .await;
        self.report(&request, &order_id, &transaction_id, &tracking_id, &priced);
        Ok(result)
    }

    /// Step 2: the cart to order. An empty cart abandons the order; it is a
    /// retry of the shopper's last order if that one emptied it just now.
    async fn read_cart(
        &self,
        calls: &CallContext,
        request: &ValidRequest,
        order_id: &str,
    ) -> Result<Cart, RpcError> {
        let cart = match self.get_cart(calls, &request.user_id).await {
            Ok(cart) => cart,
            Err(error) => {
                self.abandon(order_id).await;
                return Err(self.failed(CheckoutStage::Cart, error));
            }
        };
        if !cart.is_empty() {
            return Ok(Cart::Items(cart));
        }
        self.abandon(order_id).await;
        if let Some(last) = self.last_order(calls, &request.user_id).await
            && last.cart_emptied
            && now_ms().saturating_sub(last.updated_at_ms) < RETRY_WINDOW_MS
        {
            tracing::info!(order_id = %last.id, "Answered a retried order with the order that emptied the cart.");
            return Ok(Cart::JustOrdered(replay::outcome(&last)));
        }
        Err(self.failed(
            CheckoutStage::Validation,
            RpcError::FailedPrecondition("cart is empty".to_owned()),
        ))
    }

    /// Step 3: every line and the shipping in the shopper's currency, and
    /// the total (see `pricing`).
    async fn quote(
        &self,
        calls: &CallContext,
        cart: &[CartItem],
        request: &ValidRequest,
    ) -> Result<Priced, RpcError> {
        self.price(calls, cart, request)
            .await
            .map_err(|staged| self.failed(staged.stage, staged.error))
    }

    /// Step 4: charges the total. A refusal or an outage ends the order with
    /// nothing charged (and frees the cart); an unclear answer leaves it
    /// payment-uncertain, for the reconciler to settle with the payment
    /// ledger. A charge is recorded with the placed order (step 7).
    async fn charge(
        &self,
        calls: &CallContext,
        order_id: &str,
        priced: &Priced,
        request: &ValidRequest,
    ) -> Result<records::Charge, RpcError> {
        let charged = self
            .request_charge(calls, order_id, &priced.total, &request.card)
            .await;
        if charged.is_err() {
            self.metrics.checkout_failed(CheckoutStage::Payment);
        }
        match charged {
            Ok(transaction_id) => Ok(records::Charge {
                transaction_id,
                at_ms: now_ms(),
            }),
            Err(ChargeFailure::Declined(status)) => {
                let reason = status.message().to_owned();
                tracing::info!(order_id, reason = %reason, "Card declined.");
                self.end(order_id, State::Declined, &reason).await;
                // The payment service's own words, so the shopper sees why.
                Err(match status.code() {
                    Code::FailedPrecondition => RpcError::FailedPrecondition(reason),
                    _ => RpcError::InvalidArgument(reason),
                })
            }
            Err(ChargeFailure::Failed(status)) => {
                let error = RpcError::from_downstream("payment", &status);
                self.end(order_id, State::Failed, &error.to_string()).await;
                Err(error)
            }
            Err(ChargeFailure::Uncertain(reason)) => {
                tracing::error!(order_id, error = %reason, "No clear answer to the charge: the card may have been charged. Left to the reconciler.");
                self.end(order_id, State::PaymentUncertain, &reason).await;
                Err(payment_uncertain(order_id))
            }
        }
    }

    /// Step 5: empties the cart; whether it did. A failure is noted with
    /// the order's next write and left to the reconciler (the claim keeps the
    /// cart from being charged again meanwhile).
    async fn settle_cart(
        &self,
        calls: &CallContext,
        order_id: &str,
        user_id: &str,
        placed: &mut records::Placed,
    ) -> bool {
        match self.empty_cart(calls, user_id).await {
            Ok(()) => true,
            Err(status) => {
                // Counted as the cart stage's failure (emptying is part of
                // it), as a failed shipment after the charge is shipping's,
                // though the order goes on: alerts on `cartFailure` see it.
                self.metrics.checkout_failed(CheckoutStage::Cart);
                let warning = format!("cart not emptied: {}", status.message());
                tracing::warn!(order_id, problem = %warning, "Charged order with a problem; left to the reconciler.");
                placed.warnings.push(warning);
                false
            }
        }
    }

    /// Step 6: ships the cart; the tracking id. The card is charged by now,
    /// so a failure records the order as charged, is told to the shopper as
    /// such and is left to the reconciler, which ships later or hands the
    /// order to a person.
    async fn ship(
        &self,
        calls: &CallContext,
        order_id: &str,
        request: &ValidRequest,
        cart: &[CartItem],
        placed: &records::Placed,
    ) -> Result<String, RpcError> {
        let status = match self.request_shipment(calls, &request.address, cart).await {
            Ok(tracking_id) => return Ok(tracking_id),
            Err(status) => status,
        };
        self.metrics.checkout_failed(CheckoutStage::Shipping);
        let reason = format!("shipping: {}", status.message());
        tracing::error!(order_id, error = %reason, "The card was charged but the order could not be shipped yet; left to the reconciler.");
        self.record_charged(calls, order_id, placed).await;
        let unavailable = matches!(
            status.code(),
            Code::Unavailable
                | Code::Unknown
                | Code::Cancelled
                | Code::ResourceExhausted
                | Code::DeadlineExceeded
        );
        Err(charged_not_shipped(order_id, &reason, unavailable))
    }

    /// Step 7: sends the confirmation; whether it went out. A failure is
    /// noted with the placed order and left to the reconciler; it does not
    /// fail the order.
    async fn confirm(
        &self,
        calls: &CallContext,
        order_id: &str,
        email: &str,
        result: &OrderResult,
        placed: &mut records::Placed,
    ) -> bool {
        match self.send_confirmation(calls, email, result).await {
            Ok(()) => true,
            Err(status) => {
                let warning = format!("confirmation email not sent yet: {}", status.message());
                tracing::warn!(order_id, problem = %warning, "Order placed with a problem.");
                placed.warnings.push(warning);
                false
            }
        }
    }
}

/// What step 2 found.
#[derive(Debug)]
enum Cart {
    /// The cart to order.
    Items(Vec<CartItem>),
    /// Empty, because the shopper's last order emptied it just now: its outcome.
    JustOrdered(Result<OrderResult, RpcError>),
}

/// The answer when the charge got no clear answer.
pub(crate) fn payment_uncertain(order_id: &str) -> RpcError {
    RpcError::Unavailable(format!(
        "We could not confirm whether your card was charged. Your order {order_id} is \
         recorded and will be checked; please do not pay for it again."
    ))
    .with_reason(
        reasons::PAYMENT_UNCERTAIN,
        [("order_id", order_id.to_owned())],
    )
}

/// The answer when the card is charged and the order is not shipped yet.
pub(crate) fn charged_not_shipped(order_id: &str, reason: &str, unavailable: bool) -> RpcError {
    let message = format!(
        "Your card was charged, but your order could not be shipped yet ({reason}). Your \
         order {order_id} is recorded and its shipping confirmation follows; please do not \
         pay for it again."
    );
    let error = if unavailable {
        RpcError::Unavailable(message)
    } else {
        RpcError::FailedPrecondition(message)
    };
    error.with_reason(
        reasons::CHARGED_NOT_SHIPPED,
        [("order_id", order_id.to_owned())],
    )
}

/// The answer while another order holds the cart.
pub(crate) fn in_progress(order_id: &str) -> RpcError {
    RpcError::FailedPrecondition(
        "This order is already being placed; its confirmation follows. Please do not submit \
         it again."
            .to_owned(),
    )
    .with_reason(
        reasons::ORDER_IN_PROGRESS,
        [("order_id", order_id.to_owned())],
    )
}
