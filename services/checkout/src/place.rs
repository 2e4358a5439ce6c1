//! PlaceOrder, step by step, in upstream's order.
//!
//! [`Checkout::place`] is the order of operations; each step is a method here:
//!
//! 1. `prepare`: GetCart. An empty cart is refused (upstream charged $0 for
//!    it); a repeated request gets the earlier outcome instead.
//! 2. `quote`: price every line (GetProduct, then Convert to the shopper's
//!    currency) and quote shipping (GetQuote, then Convert), concurrently (up
//!    to 16 lines at a time): the calls do not depend on one another. Each
//!    converted amount is rounded once to the currency's minor unit; total =
//!    shipping + Σ unit cost × quantity, exactly (`pricing`).
//! 3. `record`: record the order as pending.
//! 4. `charge`: Charge the total.
//! 5. `ship`: ShipOrder.
//! 6. `finish`: EmptyCart, SendOrderConfirmation, the completed record.
//!
//! From step 3 on, every step moves the order record along, so a failure
//! after the charge leaves the order on record with its transaction id, is
//! logged at error level, and is told to the shopper plainly. A failed
//! EmptyCart or email after a successful shipment does not fail the order:
//! it is noted on the record and logged as a warning. The single downstream
//! calls are in `calls`, the record keeping in `records`.

mod calls;
mod pricing;
mod records;

use std::sync::Arc;

use boutique_money::Money;
use boutique_platform::{RpcError, call::CallContext};
use boutique_proto::{Address, CartItem, CreditCardInfo, OrderItem, OrderResult, reasons};
use tonic::Code;
use uuid::Uuid;

use crate::{
    downstream::Clients,
    idempotency::{Failure, Fingerprint, Outcome, Slot, cart_contents},
    metrics::{CheckoutMetrics, CheckoutStage},
    store::{OrderRecord, OrderState, OrderStore},
    validate::{ValidRequest, last_four},
};
use calls::ChargeFailure;
use pricing::Priced;
use records::Retries;

/// What the order steps share across requests.
#[derive(Debug)]
pub(crate) struct Checkout {
    pub(crate) clients: Clients,
    pub(crate) orders: Arc<dyn OrderStore>,
    /// The node part of this process's UUIDv1 order ids: random, so ids
    /// reveal no hardware address.
    pub(crate) node_id: [u8; 6],
    pub(crate) metrics: CheckoutMetrics,
    /// How many times one charge is sent at most (see `request_charge`).
    pub(crate) charge_attempts: u32,
}

/// One PlaceOrder request, validated and keyed.
#[derive(Debug)]
pub(crate) struct Attempt {
    pub(crate) calls: CallContext,
    pub(crate) request: ValidRequest,
    /// The fingerprint of the request itself.
    pub(crate) fingerprint: Fingerprint,
    /// Whether the client sent an `idempotency-key`.
    pub(crate) explicit_key: bool,
}

/// What `prepare` found.
#[derive(Debug)]
enum Prepared {
    /// The cart to order, and its contents as retries are compared by.
    Cart(Vec<CartItem>, Vec<(String, i64)>),
    /// A repeated request: the outcome the earlier one got.
    Replay(Result<OrderResult, RpcError>),
}

/// A charged and shipped order.
#[derive(Debug)]
struct Placed {
    order_id: String,
    transaction_id: String,
    tracking_id: String,
    priced: Priced,
}

impl Checkout {
    /// Counts a failed PlaceOrder at `stage` and passes the error on.
    fn failed(&self, stage: CheckoutStage, error: RpcError) -> RpcError {
        self.metrics.checkout_failed(stage);
        error
    }

    /// Places the order held by `slot`'s key, or replays the outcome a
    /// previous identical request got.
    pub(crate) async fn place(
        self: Arc<Self>,
        slot: Slot,
        attempt: Attempt,
    ) -> Result<OrderResult, RpcError> {
        let Attempt {
            calls,
            request,
            fingerprint,
            explicit_key,
        } = attempt;
        let prepared = self
            .prepare(&calls, &slot, &request, fingerprint, explicit_key)
            .await?;
        let (cart, contents) = match prepared {
            Prepared::Cart(cart, contents) => (cart, contents),
            Prepared::Replay(outcome) => return outcome,
        };
        let priced = self.quote(&calls, &cart, &request).await?;
        let order_id = self.record(&request, &priced).await?;
        // Everything from here on is kept for retries only once money may
        // have moved.
        let mut retries = Retries {
            slot,
            fingerprint,
            cart: contents,
        };
        let transaction_id = self
            .charge(
                &calls,
                &mut retries,
                &order_id,
                &priced.total,
                &request.card,
            )
            .await?;
        let tracking_id = self
            .ship(
                &calls,
                &mut retries,
                &order_id,
                &transaction_id,
                &request.address,
                &cart,
            )
            .await?;
        let placed = Placed {
            order_id,
            transaction_id,
            tracking_id,
            priced,
        };
        Ok(self.finish(&calls, &mut retries, &request, placed).await)
    }

    /// Step 1: the cart to order, or the earlier outcome of a repeated
    /// request (the same `idempotency-key`, or without one, a retry of the
    /// same request for the same cart). An empty cart is refused.
    async fn prepare(
        &self,
        calls: &CallContext,
        slot: &Slot,
        request: &ValidRequest,
        fingerprint: Fingerprint,
        explicit_key: bool,
    ) -> Result<Prepared, RpcError> {
        if explicit_key && let Some(entry) = slot.recent() {
            if entry.request != fingerprint {
                return Err(RpcError::invalid(
                    "this idempotency-key was already used for a different order request",
                ));
            }
            tracing::info!("Answered a repeated idempotency-key with the earlier outcome.");
            return Ok(Prepared::Replay(entry.outcome.replay()));
        }

        let cart = self
            .get_cart(calls, &request.user_id)
            .await
            .map_err(|e| self.failed(CheckoutStage::Cart, e))?;
        let contents = cart_contents(&cart);
        if !explicit_key && let Some(entry) = slot.recent().filter(|e| e.is_retry_with(&contents)) {
            tracing::info!("Answered a retried order with the earlier outcome.");
            return Ok(Prepared::Replay(entry.outcome.replay()));
        }
        if cart.is_empty() {
            return Err(self.failed(
                CheckoutStage::Validation,
                RpcError::FailedPrecondition("cart is empty".to_owned()),
            ));
        }
        Ok(Prepared::Cart(cart, contents))
    }

    /// Step 2: every line and the shipping in the shopper's currency, and
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

    /// Step 3: records the order as pending under a new id. Without a
    /// record we must not charge: the order could be lost.
    async fn record(&self, request: &ValidRequest, priced: &Priced) -> Result<String, RpcError> {
        let order_id = Uuid::now_v1(&self.node_id).to_string();
        self.orders
            .insert(OrderRecord::pending(
                order_id.clone(),
                request.user_id.clone(),
                request.email.clone(),
                request.address.clone(),
                priced.lines.clone(),
                priced.shipping.clone(),
                priced.total.clone(),
                last_four(&request.card.credit_card_number),
            ))
            .await
            .map_err(|e| {
                self.failed(
                    CheckoutStage::Store,
                    RpcError::Unavailable(format!("order store: {e}")),
                )
            })?;
        Ok(order_id)
    }

    /// Step 4: charges the total; the transaction id. A decline or a
    /// payment outage ends the order with nothing charged; an unclear
    /// answer (the card may have been charged) is kept for retries, so a
    /// retry cannot charge again.
    async fn charge(
        &self,
        calls: &CallContext,
        retries: &mut Retries,
        order_id: &str,
        total: &Money,
        card: &CreditCardInfo,
    ) -> Result<String, RpcError> {
        let charged = self.request_charge(calls, order_id, total, card).await;
        if charged.is_err() {
            self.metrics.checkout_failed(CheckoutStage::Payment);
        }
        let transaction_id = match charged {
            Ok(id) => id,
            Err(ChargeFailure::Declined(status)) => {
                let reason = status.message().to_owned();
                self.note_state(order_id, OrderState::PaymentDeclined { reason })
                    .await;
                tracing::info!(order_id = %order_id, reason = status.message(), "Card declined.");
                // The payment service's own words, so the shopper sees why.
                return Err(match status.code() {
                    Code::FailedPrecondition => {
                        RpcError::FailedPrecondition(status.message().to_owned())
                    }
                    _ => RpcError::InvalidArgument(status.message().to_owned()),
                });
            }
            Err(ChargeFailure::Failed(status)) => {
                let error = RpcError::from_downstream("payment", &status);
                let reason = error.to_string();
                self.note_state(order_id, OrderState::PaymentFailed { reason })
                    .await;
                return Err(error);
            }
            Err(ChargeFailure::Uncertain(reason)) => {
                tracing::error!(
                    order_id = %order_id,
                    error = %reason,
                    "No clear answer to the charge: the card may have been charged. Recorded for follow-up."
                );
                self.note_state(order_id, OrderState::PaymentUncertain { reason })
                    .await;
                let failure = Failure {
                    unavailable: true,
                    message: format!(
                        "We could not confirm whether your card was charged. Your order \
                         {order_id} is recorded and will be checked; please do not pay for it \
                         again."
                    ),
                    reason: reasons::PAYMENT_UNCERTAIN,
                    order_id: order_id.to_owned(),
                };
                retries.keep(false, Outcome::Failed(failure.clone()));
                return Err(failure.into());
            }
        };
        self.note_state(
            order_id,
            OrderState::Charged {
                transaction_id: transaction_id.clone(),
            },
        )
        .await;
        Ok(transaction_id)
    }

    /// Step 5: ships the cart; the tracking id. The card is charged by now,
    /// so a failure is recorded for follow-up, told to the shopper as such,
    /// and kept for retries; the cart is kept, so the shopper still has it.
    async fn ship(
        &self,
        calls: &CallContext,
        retries: &mut Retries,
        order_id: &str,
        transaction_id: &str,
        address: &Address,
        cart: &[CartItem],
    ) -> Result<String, RpcError> {
        let tracking_id = match self.request_shipment(calls, address, cart).await {
            Ok(id) => id,
            Err(status) => {
                self.metrics.checkout_failed(CheckoutStage::Shipping);
                let reason = format!("shipping: {}", status.message());
                tracing::error!(
                    order_id = %order_id,
                    transaction_id = %transaction_id,
                    error = %reason,
                    "The card was charged but the order could not be shipped. Recorded for follow-up."
                );
                self.note_state(
                    order_id,
                    OrderState::ShippingFailedAfterCharge {
                        transaction_id: transaction_id.to_owned(),
                        reason: reason.clone(),
                    },
                )
                .await;
                let message = format!(
                    "Your card was charged, but your order could not be shipped ({reason}). \
                     Your order {order_id} is recorded and will be followed up; \
                     please do not pay for it again."
                );
                let failure = Failure {
                    unavailable: matches!(
                        status.code(),
                        Code::Unavailable
                            | Code::Unknown
                            | Code::Cancelled
                            | Code::ResourceExhausted
                            | Code::DeadlineExceeded
                    ),
                    message,
                    reason: reasons::CHARGED_NOT_SHIPPED,
                    order_id: order_id.to_owned(),
                };
                retries.keep(false, Outcome::Failed(failure.clone()));
                return Err(failure.into());
            }
        };
        self.note_state(
            order_id,
            OrderState::Shipped {
                transaction_id: transaction_id.to_owned(),
                tracking_id: tracking_id.clone(),
            },
        )
        .await;
        Ok(tracking_id)
    }

    /// Step 6: the order is placed. Empties the cart and sends the
    /// confirmation (a failure of either is noted on the record, not
    /// fatal), completes the record, reports the order, and keeps the
    /// result for retries.
    async fn finish(
        &self,
        calls: &CallContext,
        retries: &mut Retries,
        request: &ValidRequest,
        placed: Placed,
    ) -> OrderResult {
        let result = order_result(request, &placed);
        let order_id = placed.order_id.as_str();
        let cart_emptied = match self.empty_cart(calls, &request.user_id).await {
            Ok(()) => true,
            Err(status) => {
                self.warn(order_id, format!("cart not emptied: {}", status.message()))
                    .await;
                false
            }
        };
        if let Err(status) = self.send_confirmation(calls, &request.email, &result).await {
            self.warn(
                order_id,
                format!("confirmation email not sent: {}", status.message()),
            )
            .await;
        }
        self.note_state(
            order_id,
            OrderState::Completed {
                transaction_id: placed.transaction_id.clone(),
                tracking_id: placed.tracking_id.clone(),
            },
        )
        .await;
        self.report(request, &placed);
        retries.keep(cart_emptied, Outcome::Placed(result.clone()));
        result
    }
}

/// The answer to PlaceOrder, as upstream shapes it: each line's unit cost.
fn order_result(request: &ValidRequest, placed: &Placed) -> OrderResult {
    OrderResult {
        order_id: placed.order_id.clone(),
        shipping_tracking_id: placed.tracking_id.clone(),
        shipping_cost: Some(placed.priced.shipping.clone().into()),
        shipping_address: Some(request.address.clone()),
        items: placed
            .priced
            .lines
            .iter()
            .map(|line| OrderItem {
                item: Some(CartItem {
                    product_id: line.product_id.clone(),
                    quantity: line.quantity,
                }),
                cost: Some(line.unit_cost.clone().into()),
            })
            .collect(),
    }
}
