//! Keeping the order on record: the calls to the orders service each step
//! makes, and the report (log, metric, span) of a placed order.
//!
//! Before the charge a failed record stops the order (without a record the
//! charge could be lost). After it, a failed record is logged with the ids
//! needed to repair it, and the order goes on: the reconciler finds what the
//! record is missing.

use boutique_platform::{
    RpcError,
    call::CallContext,
    error::error_reason,
    telemetry::trace::{KeyValue, annotate, attr},
};
use boutique_proto::{
    boutique::orders::v1::{
        self as pb, AbandonOrderRequest, AdvanceOrderRequest, BeginOrderRequest, ListOrdersRequest,
        NoteOrderRequest, OrderState as State, PriceOrderRequest,
    },
    reasons,
};
use ring::digest;
use tonic::{Code, Status};

use super::{Checkout, in_progress, pricing::Priced};
use crate::{
    metrics::CheckoutStage,
    validate::{ValidRequest, last_four},
};

/// What BeginOrder gave.
#[derive(Debug)]
pub(super) enum Opened {
    /// A new order, holding the cart.
    New(pb::Order),
    /// The order an earlier request with the same key opened.
    Replay(pb::Order),
}

/// A charge that went through.
#[derive(Debug, Clone)]
pub(super) struct Charge {
    /// Payment's transaction id.
    pub(super) transaction_id: String,
    /// When it went through (ms since the Unix epoch).
    pub(super) at_ms: i64,
}

/// What happened after the charge, recorded with the order's next write.
#[derive(Debug)]
pub(super) struct Placed {
    pub(super) charge: Charge,
    pub(super) cart_emptied: bool,
    pub(super) confirmation_sent: bool,
    /// Problems that did not stop the order.
    pub(super) warnings: Vec<String>,
}

impl Placed {
    /// Just charged, nothing else done yet.
    pub(super) fn new(charge: Charge) -> Self {
        Self {
            charge,
            cart_emptied: false,
            confirmation_sent: false,
            warnings: Vec::new(),
        }
    }
}

/// A digest of what the request asks for, so a key reused for another
/// request is refused. The card enters only as its last four digits and
/// expiry: the digest is stored, and a card number hashed without a secret
/// could be recovered by trying them all.
fn request_digest(request: &ValidRequest) -> String {
    let address = &request.address;
    let card = &request.card;
    let fields = [
        request.user_id.as_str(),
        request.currency.as_str(),
        request.email.as_str(),
        address.street_address.as_str(),
        address.city.as_str(),
        address.state.as_str(),
        address.country.as_str(),
        &address.zip_code.to_string(),
        &last_four(&card.credit_card_number).unwrap_or_default(),
        &card.credit_card_expiration_month.to_string(),
        &card.credit_card_expiration_year.to_string(),
    ];
    let mut context = digest::Context::new(&digest::SHA256);
    for field in fields {
        // Length-prefixed, so no two requests run together into one text.
        context.update(&(field.len() as u64).to_be_bytes());
        context.update(field.as_bytes());
    }
    context
        .finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The orders service's failure as this order's: its refusals pass on,
/// anything else means the record cannot be kept.
fn store_failure(status: &Status) -> RpcError {
    match status.code() {
        Code::InvalidArgument | Code::FailedPrecondition | Code::NotFound => {
            RpcError::FailedPrecondition(format!("order record: {}", status.message()))
        }
        _ => RpcError::Unavailable(format!("order store: {}", status.message())),
    }
}

impl Checkout {
    /// Step 1: BeginOrder. Claims the cart and the key; with a key seen
    /// before, the order it opened.
    pub(super) async fn begin(
        &self,
        calls: &CallContext,
        request: &ValidRequest,
        key: Option<&str>,
    ) -> Result<Opened, RpcError> {
        let mut client = self.clients.orders.clone();
        let message = BeginOrderRequest {
            owner: request.user_id.clone(),
            cart_id: request.user_id.clone(),
            idempotency_key: key.unwrap_or_default().to_owned(),
            request_digest: request_digest(request),
            email: request.email.clone(),
            shipping_address: Some(request.address.clone()),
            currency_code: request.currency.clone(),
            card_last_four: last_four(&request.card.credit_card_number).unwrap_or_default(),
        };
        let begun = calls
            .call("orders", message, move |r| async move {
                client.begin_order(r).await
            })
            .await;
        let begun = match begun {
            Ok(begun) => begun,
            Err(status) => {
                let error = match error_reason(&status) {
                    Some((reason, metadata)) if reason == reasons::ORDER_IN_PROGRESS => {
                        in_progress(metadata.get("order_id").map_or("", String::as_str))
                    }
                    Some((reason, _)) if reason == reasons::IDEMPOTENCY_KEY_REUSED => {
                        RpcError::invalid(status.message())
                            .with_reason(reasons::IDEMPOTENCY_KEY_REUSED, [])
                    }
                    _ => {
                        return Err(self.failed(CheckoutStage::Store, store_failure(&status)));
                    }
                };
                return Err(self.failed(CheckoutStage::Validation, error));
            }
        };
        let order = begun.order.ok_or_else(|| {
            self.failed(
                CheckoutStage::Store,
                RpcError::Unavailable("the order store answered without an order".to_owned()),
            )
        })?;
        Ok(if begun.replayed {
            Opened::Replay(order)
        } else {
            Opened::New(order)
        })
    }

    /// Forgets an order that ended before its price was recorded. A failure
    /// only leaves it to the reconciler.
    pub(crate) async fn abandon(&self, order_id: &str) {
        let mut client = self.clients.orders.clone();
        let calls = CallContext::with_budget(self.post_charge_timeout);
        let message = AbandonOrderRequest {
            order_id: order_id.to_owned(),
        };
        if let Err(status) = calls
            .call("orders", message, move |r| async move {
                client.abandon_order(r).await
            })
            .await
        {
            tracing::warn!(order_id, error = %status.message(), "Could not abandon the order; left to the reconciler.");
        }
    }

    /// Records the lines and the total. Without it the card must not be
    /// charged, so a failure abandons the order.
    pub(super) async fn record_price(
        &self,
        order_id: &str,
        priced: &Priced,
    ) -> Result<(), RpcError> {
        let mut client = self.clients.orders.clone();
        let calls = CallContext::with_budget(self.post_charge_timeout);
        let message = PriceOrderRequest {
            order_id: order_id.to_owned(),
            lines: priced
                .lines
                .iter()
                .map(|line| pb::OrderLine {
                    product_id: line.product_id.clone(),
                    quantity: line.quantity,
                    unit_cost: Some(line.unit_cost.clone().into()),
                })
                .collect(),
            shipping_cost: Some(priced.shipping.clone().into()),
            total: Some(priced.total.clone().into()),
        };
        let priced = calls
            .call("orders", message, move |r| async move {
                client.price_order(r).await
            })
            .await;
        if let Err(status) = priced {
            self.abandon(order_id).await;
            return Err(self.failed(CheckoutStage::Store, store_failure(&status)));
        }
        Ok(())
    }

    /// Moves the order to `to`.
    pub(crate) async fn advance(
        &self,
        calls: &CallContext,
        order_id: &str,
        to: State,
        transaction_id: Option<&str>,
        tracking_id: Option<&str>,
        reason: &str,
    ) -> Result<pb::Order, Status> {
        let message = AdvanceOrderRequest {
            order_id: order_id.to_owned(),
            to: to.into(),
            transaction_id: transaction_id.unwrap_or_default().to_owned(),
            tracking_id: tracking_id.unwrap_or_default().to_owned(),
            reason: reason.to_owned(),
            ..AdvanceOrderRequest::default()
        };
        self.advance_as(calls, message).await
    }

    /// Moves the order as `message` asks.
    pub(crate) async fn advance_as(
        &self,
        calls: &CallContext,
        message: AdvanceOrderRequest,
    ) -> Result<pb::Order, Status> {
        let mut client = self.clients.orders.clone();
        calls
            .call("orders", message, move |r| async move {
                client.advance_order(r).await
            })
            .await
    }

    /// Records a placed order in one write: charged at the charge's time,
    /// shipped, and what was done after the charge. A failure is logged with
    /// the ids needed to repair it; the reconciler settles the order from the
    /// payment ledger and finishes it.
    pub(super) async fn record_placed(
        &self,
        calls: &CallContext,
        order_id: &str,
        tracking_id: &str,
        placed: Placed,
    ) {
        let message = AdvanceOrderRequest {
            order_id: order_id.to_owned(),
            to: State::Shipped.into(),
            tracking_id: tracking_id.to_owned(),
            charged_at_ms: placed.charge.at_ms,
            ..placed_notes(&placed)
        };
        if let Err(status) = self.advance_as(calls, message).await {
            let transaction_id = &placed.charge.transaction_id;
            tracing::error!(order_id, %transaction_id, tracking_id, error = %status.message(), "Charged and shipped, but the order could not be recorded; left to the reconciler.");
        }
    }

    /// Records a charged order that could not be shipped, with what was done
    /// after the charge; a failure is logged and left to the reconciler.
    pub(super) async fn record_charged(
        &self,
        calls: &CallContext,
        order_id: &str,
        placed: &Placed,
    ) {
        let message = AdvanceOrderRequest {
            order_id: order_id.to_owned(),
            to: State::Charged.into(),
            ..placed_notes(placed)
        };
        if let Err(status) = self.advance_as(calls, message).await {
            let transaction_id = &placed.charge.transaction_id;
            tracing::error!(order_id, %transaction_id, error = %status.message(), "Charged, but the order could not be marked charged; left to the reconciler.");
        }
    }

    /// Ends the order where the charge left it (declined, failed, payment
    /// uncertain), on a budget of its own; a failure is logged and left to
    /// the reconciler.
    pub(super) async fn end(&self, order_id: &str, to: State, reason: &str) {
        let calls = CallContext::with_budget(self.post_charge_timeout);
        if let Err(status) = self.advance(&calls, order_id, to, None, None, reason).await {
            tracing::error!(order_id, state = ?to, error = %status.message(), "Could not record the order's state; left to the reconciler.");
        }
    }

    /// Notes the cart emptied, the confirmation sent, or a problem; a
    /// failure is logged (the reconciler redoes what is not noted).
    pub(crate) async fn note(
        &self,
        calls: &CallContext,
        order_id: &str,
        cart_emptied: bool,
        confirmation_sent: bool,
        warning: Option<String>,
    ) {
        let mut client = self.clients.orders.clone();
        let message = NoteOrderRequest {
            order_id: order_id.to_owned(),
            cart_emptied,
            confirmation_sent,
            warning: warning.unwrap_or_default(),
        };
        if let Err(status) = calls
            .call("orders", message, move |r| async move {
                client.note_order(r).await
            })
            .await
        {
            tracing::error!(order_id, error = %status.message(), "Could not note on the order.");
        }
    }

    /// The shopper's most recent order, if the orders service can say.
    pub(super) async fn last_order(&self, calls: &CallContext, owner: &str) -> Option<pb::Order> {
        let mut client = self.clients.orders.clone();
        let message = ListOrdersRequest {
            owner: owner.to_owned(),
            page_size: 1,
            page_token: String::new(),
        };
        let listed = calls
            .call("orders", message, move |r| async move {
                client.list_orders(r).await
            })
            .await
            .ok()?;
        listed.orders.into_iter().next()
    }

    /// Logs a placed order, counts it, and puts its ids on the span.
    pub(super) fn report(
        &self,
        request: &ValidRequest,
        order_id: &str,
        transaction_id: &str,
        tracking_id: &str,
        priced: &Priced,
    ) {
        tracing::info!(
            order_id,
            transaction_id,
            tracking_id,
            total = %priced.total,
            lines = priced.lines.len(),
            "Placed order."
        );
        self.metrics
            .order_placed(&request.currency, priced.total.approximate());
        annotate([
            KeyValue::new(attr::ORDER_ID, order_id.to_owned()),
            KeyValue::new(attr::TRACKING_ID, tracking_id.to_owned()),
            KeyValue::new(attr::TRANSACTION_ID, transaction_id.to_owned()),
            KeyValue::new(
                attr::ITEM_COUNT,
                i64::try_from(priced.lines.len()).unwrap_or(i64::MAX),
            ),
            KeyValue::new(attr::AMOUNT, priced.total.approximate()),
            KeyValue::new(attr::CURRENCY, request.currency.clone()),
            KeyValue::new(attr::USER_CURRENCY, request.currency.clone()),
        ]);
    }
}

/// A move carrying the charge and the notes of `placed`.
fn placed_notes(placed: &Placed) -> AdvanceOrderRequest {
    AdvanceOrderRequest {
        transaction_id: placed.charge.transaction_id.clone(),
        cart_emptied: placed.cart_emptied,
        confirmation_sent: placed.confirmation_sent,
        warnings: placed.warnings.clone(),
        ..AdvanceOrderRequest::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use boutique_proto::{Address, CreditCardInfo};

    fn request(number: &str, email: &str) -> ValidRequest {
        ValidRequest {
            user_id: "u".into(),
            currency: "USD".into(),
            address: Address::default(),
            email: email.into(),
            card: CreditCardInfo {
                credit_card_number: number.into(),
                ..Default::default()
            },
        }
    }

    #[test]
    fn the_digest_tells_requests_apart_and_keeps_the_card_out() {
        let a = request_digest(&request("4432801561520454", "a@example.com"));
        assert_eq!(
            a,
            request_digest(&request("4432801561520454", "a@example.com"))
        );
        assert_ne!(
            a,
            request_digest(&request("4432801561520454", "b@example.com"))
        );
        assert_ne!(
            a,
            request_digest(&request("4432801561529999", "a@example.com"))
        );
        assert_eq!(a.len(), 64);
        assert!(!a.contains("0454"));
    }
}
