//! PlaceOrder, step by step, in upstream's order.
//!
//! 1. GetCart; an empty cart is refused (upstream charged $0 for it).
//! 2. Price every line (GetProduct, then Convert to the shopper's currency)
//!    and quote shipping (GetQuote, then Convert), concurrently (up to 16
//!    lines at a time): the calls do not depend on one another.
//! 3. Total = shipping + Σ unit cost × quantity, in exact integer money.
//! 4. Record the order as pending, then Charge.
//! 5. ShipOrder, EmptyCart, SendOrderConfirmation.
//!
//! From step 4 on, every step moves the order record along, so a failure
//! after the charge leaves the order on record with its transaction id, is
//! logged at error level, and is told to the shopper plainly. A failed
//! EmptyCart or email after a successful shipment does not fail the order:
//! it is noted on the record and logged as a warning.

use std::sync::Arc;

use boutique_money::{Money, MoneyError};
use boutique_platform::{
    RpcError,
    call::CallContext,
    telemetry::trace::{KeyValue, annotate, attr},
};
use boutique_proto::{
    Address, CartItem, ChargeRequest, CreditCardInfo, CurrencyConversionRequest, EmptyCartRequest,
    GetCartRequest, GetProductRequest, GetQuoteRequest, OrderItem, OrderResult,
    SendOrderConfirmationRequest, ShipOrderRequest,
};
use futures::{StreamExt, TryStreamExt, stream};
use tokio::time::Instant;
use tonic::{Code, Status};
use uuid::Uuid;

use crate::{
    downstream::Clients,
    idempotency::{Entry, Failure, Fingerprint, Outcome, Slot, cart_contents},
    metrics::{CheckoutMetrics, CheckoutStage},
    store::{OrderLine, OrderRecord, OrderState, OrderStore},
    validate::{ValidRequest, last_four},
};

/// How many cart lines are priced at once.
const MAX_CONCURRENT_LINES: usize = 16;

/// What the order steps share across requests.
#[derive(Debug)]
pub(crate) struct Checkout {
    pub(crate) clients: Clients,
    pub(crate) orders: Arc<dyn OrderStore>,
    /// The node part of this process's UUIDv1 order ids: random, so ids
    /// reveal no hardware address.
    pub(crate) node_id: [u8; 6],
    pub(crate) metrics: CheckoutMetrics,
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

/// Faults of our dependencies that the shopper cannot fix; logged in full,
/// answered opaquely.
#[derive(Debug, thiserror::Error)]
enum Fault {
    #[error("the product catalog returned {0} without a price")]
    MissingPrice(String),
    #[error("the shipping service returned a quote without a cost")]
    MissingQuote,
    #[error("the currency service returned an invalid amount")]
    BadAmount(#[source] MoneyError),
    #[error("the currency service answered in {got:?} when asked for {wanted:?}")]
    WrongCurrency { got: String, wanted: String },
    #[error("the order total cannot be computed")]
    Total(#[source] MoneyError),
}

/// The priced order, in the shopper's currency.
#[derive(Debug)]
struct Priced {
    lines: Vec<OrderLine>,
    shipping: Money,
    total: Money,
}

/// Why the charge did not go through.
#[derive(Debug)]
enum ChargeFailure {
    /// The payment service refused the card or the request.
    Declined(Status),
    /// The payment service failed or could not be reached; nothing was charged.
    Failed(Status),
    /// No clear answer: the card may have been charged.
    Uncertain(String),
}

/// A failure and the step of PlaceOrder it happened in, for
/// `boutique_checkout_failures_total`.
#[derive(Debug)]
struct Staged {
    stage: CheckoutStage,
    error: RpcError,
}

/// Tags an error with its stage.
trait AtStage<T> {
    fn at(self, stage: CheckoutStage) -> Result<T, Staged>;
}

impl<T> AtStage<T> for Result<T, RpcError> {
    fn at(self, stage: CheckoutStage) -> Result<T, Staged> {
        self.map_err(|error| Staged { stage, error })
    }
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
        mut slot: Slot,
        attempt: Attempt,
    ) -> Result<OrderResult, RpcError> {
        let Attempt {
            calls,
            request,
            fingerprint,
            explicit_key,
        } = attempt;
        if explicit_key && let Some(entry) = slot.recent() {
            if entry.request != fingerprint {
                return Err(RpcError::invalid(
                    "this idempotency-key was already used for a different order request",
                ));
            }
            tracing::info!("Answered a repeated idempotency-key with the earlier outcome.");
            return entry.outcome.replay();
        }

        let cart = self
            .get_cart(&calls, &request.user_id)
            .await
            .map_err(|e| self.failed(CheckoutStage::Cart, e))?;
        let contents = cart_contents(&cart);
        if !explicit_key && let Some(entry) = slot.recent().filter(|e| e.is_retry_with(&contents)) {
            tracing::info!("Answered a retried order with the earlier outcome.");
            return entry.outcome.replay();
        }
        if cart.is_empty() {
            return Err(self.failed(
                CheckoutStage::Validation,
                RpcError::FailedPrecondition("cart is empty".to_owned()),
            ));
        }

        let priced = self
            .price(&calls, &cart, &request)
            .await
            .map_err(|staged| self.failed(staged.stage, staged.error))?;
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
            // Without a record we must not charge: the order could be lost.
            .map_err(|e| {
                self.failed(
                    CheckoutStage::Store,
                    RpcError::Unavailable(format!("order store: {e}")),
                )
            })?;

        // Everything from here on is kept for retries only once money may
        // have moved.
        let keep = |slot: &mut Slot, cart_emptied: bool, outcome: Outcome| {
            slot.keep(Entry {
                request: fingerprint,
                cart: contents.clone(),
                cart_emptied,
                outcome,
                at: Instant::now(),
            });
        };

        let charged = self.charge(&calls, &priced.total, &request.card).await;
        if charged.is_err() {
            self.metrics.checkout_failed(CheckoutStage::Payment);
        }
        let transaction_id = match charged {
            Ok(id) => id,
            Err(ChargeFailure::Declined(status)) => {
                let reason = status.message().to_owned();
                self.note_state(&order_id, OrderState::PaymentDeclined { reason })
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
                self.note_state(&order_id, OrderState::PaymentFailed { reason })
                    .await;
                return Err(error);
            }
            Err(ChargeFailure::Uncertain(reason)) => {
                tracing::error!(
                    order_id = %order_id,
                    error = %reason,
                    "No clear answer to the charge: the card may have been charged. Recorded for follow-up."
                );
                self.note_state(&order_id, OrderState::PaymentUncertain { reason })
                    .await;
                let failure = Failure::Unavailable(format!(
                    "We could not confirm whether your card was charged. Your order {order_id} \
                     is recorded and will be checked; please do not pay for it again."
                ));
                keep(&mut slot, false, Outcome::Failed(failure.clone()));
                return Err(failure.into());
            }
        };
        self.note_state(
            &order_id,
            OrderState::Charged {
                transaction_id: transaction_id.clone(),
            },
        )
        .await;

        let tracking_id = match self.ship(&calls, &request.address, &cart).await {
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
                    &order_id,
                    OrderState::ShippingFailedAfterCharge {
                        transaction_id: transaction_id.clone(),
                        reason: reason.clone(),
                    },
                )
                .await;
                let message = format!(
                    "Your card was charged, but your order could not be shipped ({reason}). \
                     Your order {order_id} is recorded and will be followed up; \
                     please do not pay for it again."
                );
                let failure = match status.code() {
                    Code::Unavailable
                    | Code::Unknown
                    | Code::Cancelled
                    | Code::ResourceExhausted
                    | Code::DeadlineExceeded => Failure::Unavailable(message),
                    _ => Failure::FailedPrecondition(message),
                };
                // The cart is kept, so the shopper still has it.
                keep(&mut slot, false, Outcome::Failed(failure.clone()));
                return Err(failure.into());
            }
        };
        self.note_state(
            &order_id,
            OrderState::Shipped {
                transaction_id: transaction_id.clone(),
                tracking_id: tracking_id.clone(),
            },
        )
        .await;

        let result = OrderResult {
            order_id: order_id.clone(),
            shipping_tracking_id: tracking_id.clone(),
            shipping_cost: Some(priced.shipping.clone().into()),
            shipping_address: Some(request.address.clone()),
            items: priced
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
        };

        let cart_emptied = match self.empty_cart(&calls, &request.user_id).await {
            Ok(()) => true,
            Err(status) => {
                self.warn(&order_id, format!("cart not emptied: {}", status.message()))
                    .await;
                false
            }
        };
        if let Err(status) = self
            .send_confirmation(&calls, &request.email, &result)
            .await
        {
            self.warn(
                &order_id,
                format!("confirmation email not sent: {}", status.message()),
            )
            .await;
        }
        self.note_state(
            &order_id,
            OrderState::Completed {
                transaction_id: transaction_id.clone(),
                tracking_id: tracking_id.clone(),
            },
        )
        .await;
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
        keep(&mut slot, cart_emptied, Outcome::Placed(result.clone()));
        Ok(result)
    }

    async fn get_cart(
        &self,
        calls: &CallContext,
        user_id: &str,
    ) -> Result<Vec<CartItem>, RpcError> {
        let mut client = self.clients.cart.clone();
        let message = GetCartRequest {
            user_id: user_id.to_owned(),
        };
        let cart = calls
            .call(
                "cart",
                message,
                move |r| async move { client.get_cart(r).await },
            )
            .await
            .map_err(|status| RpcError::from_downstream("cart", &status))?;
        Ok(cart.items)
    }

    /// Prices every line and the shipping, concurrently, and totals them.
    async fn price(
        &self,
        calls: &CallContext,
        cart: &[CartItem],
        request: &ValidRequest,
    ) -> Result<Priced, Staged> {
        let currency = request.currency.as_str();
        // Concurrent, but bounded: a cart may hold many lines, and each
        // costs two calls. `buffered` keeps the cart's order.
        // (Collected first: a stream holding the closure trips the
        // compiler's `Send` check for the spawned order task.)
        let pricing: Vec<_> = cart
            .iter()
            .map(|item| self.price_line(calls, item, currency))
            .collect();
        let lines = stream::iter(pricing)
            .buffered(MAX_CONCURRENT_LINES)
            .try_collect::<Vec<_>>();
        let shipping = self.quote(calls, &request.address, cart, currency);
        let (lines, shipping) = futures::try_join!(lines, shipping)?;

        let mut amounts = Vec::with_capacity(lines.len() + 1);
        amounts.push(shipping.clone());
        for line in &lines {
            let line_total = line
                .unit_cost
                .checked_mul(i64::from(line.quantity))
                .map_err(|e| RpcError::internal(Fault::Total(e)))
                .at(CheckoutStage::Currency)?;
            amounts.push(line_total);
        }
        let total = Money::sum(currency, &amounts).map_err(|e| RpcError::internal(Fault::Total(e)));
        let total = total.at(CheckoutStage::Currency)?;
        Ok(Priced {
            lines,
            shipping,
            total,
        })
    }

    /// The unit price of one cart line in the shopper's currency.
    async fn price_line(
        &self,
        calls: &CallContext,
        item: &CartItem,
        currency: &str,
    ) -> Result<OrderLine, Staged> {
        if item.quantity < 1 {
            return Err(RpcError::FailedPrecondition(format!(
                "the cart holds {} with quantity {}",
                item.product_id, item.quantity
            )))
            .at(CheckoutStage::Cart);
        }
        let mut client = self.clients.catalog.clone();
        let message = GetProductRequest {
            id: item.product_id.clone(),
        };
        let product = calls
            .call("product catalog", message, move |r| async move {
                client.get_product(r).await
            })
            .await
            .map_err(|status| match status.code() {
                Code::NotFound => RpcError::FailedPrecondition(format!(
                    "product {} in the cart is no longer in the catalog",
                    item.product_id
                )),
                _ => RpcError::from_downstream("product catalog", &status),
            })
            .at(CheckoutStage::Catalog)?;
        let price = product
            .price_usd
            .ok_or_else(|| RpcError::internal(Fault::MissingPrice(product.id.clone())))
            .at(CheckoutStage::Catalog)?;
        Ok(OrderLine {
            product_id: item.product_id.clone(),
            quantity: item.quantity,
            unit_cost: self
                .convert(calls, price, currency)
                .await
                .at(CheckoutStage::Currency)?,
        })
    }

    /// The shipping cost for the cart in the shopper's currency.
    async fn quote(
        &self,
        calls: &CallContext,
        address: &Address,
        cart: &[CartItem],
        currency: &str,
    ) -> Result<Money, Staged> {
        let mut client = self.clients.shipping.clone();
        let message = GetQuoteRequest {
            address: Some(address.clone()),
            items: cart.to_vec(),
        };
        let quote = calls
            .call("shipping", message, move |r| async move {
                client.get_quote(r).await
            })
            .await
            .map_err(|status| RpcError::from_downstream("shipping", &status))
            .at(CheckoutStage::Quote)?;
        let cost = quote
            .cost_usd
            .ok_or_else(|| RpcError::internal(Fault::MissingQuote))
            .at(CheckoutStage::Quote)?;
        self.convert(calls, cost, currency)
            .await
            .at(CheckoutStage::Currency)
    }

    /// Converts `amount` with the currency service, checking the answer.
    async fn convert(
        &self,
        calls: &CallContext,
        amount: boutique_proto::Money,
        to: &str,
    ) -> Result<Money, RpcError> {
        let mut client = self.clients.currency.clone();
        let message = CurrencyConversionRequest {
            from: Some(amount),
            to_code: to.to_owned(),
        };
        let converted = calls
            .call("currency", message, move |r| async move {
                client.convert(r).await
            })
            .await
            .map_err(|status| RpcError::from_downstream("currency", &status))?;
        let converted =
            Money::try_from(converted).map_err(|e| RpcError::internal(Fault::BadAmount(e)))?;
        if converted.currency_code() != to {
            return Err(RpcError::internal(Fault::WrongCurrency {
                got: converted.currency_code().to_owned(),
                wanted: to.to_owned(),
            }));
        }
        Ok(converted)
    }

    async fn charge(
        &self,
        calls: &CallContext,
        total: &Money,
        card: &CreditCardInfo,
    ) -> Result<String, ChargeFailure> {
        let mut client = self.clients.payment.clone();
        let message = ChargeRequest {
            amount: Some(total.clone().into()),
            credit_card: Some(card.clone()),
        };
        match calls
            .call("payment", message, move |r| async move {
                client.charge(r).await
            })
            .await
        {
            Ok(reply) if !reply.transaction_id.is_empty() => Ok(reply.transaction_id),
            Ok(_) => Err(ChargeFailure::Uncertain(
                "payment: the charge was answered without a transaction id".to_owned(),
            )),
            Err(status) => Err(match status.code() {
                Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
                    ChargeFailure::Declined(status)
                }
                // The request may have reached the payment service and been
                // carried out; only the answer is missing.
                Code::DeadlineExceeded | Code::Cancelled => {
                    ChargeFailure::Uncertain(format!("payment: {}", status.message()))
                }
                _ => ChargeFailure::Failed(status),
            }),
        }
    }

    async fn ship(
        &self,
        calls: &CallContext,
        address: &Address,
        cart: &[CartItem],
    ) -> Result<String, Status> {
        let mut client = self.clients.shipping.clone();
        let message = ShipOrderRequest {
            address: Some(address.clone()),
            items: cart.to_vec(),
        };
        let reply = calls
            .call("shipping", message, move |r| async move {
                client.ship_order(r).await
            })
            .await?;
        Ok(reply.tracking_id)
    }

    async fn empty_cart(&self, calls: &CallContext, user_id: &str) -> Result<(), Status> {
        let mut client = self.clients.cart.clone();
        let message = EmptyCartRequest {
            user_id: user_id.to_owned(),
        };
        calls
            .call("cart", message, move |r| async move {
                client.empty_cart(r).await
            })
            .await?;
        Ok(())
    }

    async fn send_confirmation(
        &self,
        calls: &CallContext,
        email: &str,
        order: &OrderResult,
    ) -> Result<(), Status> {
        let mut client = self.clients.email.clone();
        let message = SendOrderConfirmationRequest {
            email: email.to_owned(),
            order: Some(order.clone()),
        };
        calls
            .call("email", message, move |r| async move {
                client.send_order_confirmation(r).await
            })
            .await?;
        Ok(())
    }

    /// Moves the record along. A store failure must not undo an order whose
    /// card is charged, so it is logged (with the ids needed to repair the
    /// record) rather than returned.
    async fn note_state(&self, order_id: &str, state: OrderState) {
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
    async fn warn(&self, order_id: &str, warning: String) {
        tracing::warn!(order_id, problem = %warning, "Order placed with a problem.");
        if let Err(error) = self.orders.add_warning(order_id, warning).await {
            tracing::error!(order_id, %error, "Could not record a warning on the order.");
        }
    }
}
