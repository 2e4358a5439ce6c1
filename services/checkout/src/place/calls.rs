//! The single downstream calls the steps are made of, besides pricing: get
//! the cart, charge the card, ship, empty the cart, send the email. Each is
//! one RPC with its answer read; what a failure means for the order is for
//! the step that made the call.

use std::time::Duration;

use boutique_flags::names::PAYMENT_UNREACHABLE;
use boutique_money::Money;
use boutique_platform::{
    RpcError,
    call::CallContext,
    resilience::{Rejection, rejected_locally, retry::backoff},
};
use boutique_proto::{
    Address, CartItem, ChargeRequest, CreditCardInfo, EmptyCartRequest, GetCartRequest,
    OrderResult, SendOrderConfirmationRequest, ShipOrderRequest,
};
use tonic::{Code, Status, metadata::MetadataValue};

use super::Checkout;
use crate::IDEMPOTENCY_KEY;

/// The pause before the first resend of a charge; each later one waits twice
/// as long, jittered (the platform's backoff).
const CHARGE_BACKOFF: Duration = Duration::from_millis(25);

/// Why the charge did not go through.
#[derive(Debug)]
pub(super) enum ChargeFailure {
    /// The payment service refused the card or the request.
    Declined(Status),
    /// The payment service failed or could not be reached, and no attempt
    /// can have charged the card.
    Failed(Status),
    /// No clear answer: the card may have been charged.
    Uncertain(String),
}

impl Checkout {
    /// The shopper's cart (a read, so retried under the cart's policy).
    pub(super) async fn get_cart(
        &self,
        calls: &CallContext,
        user_id: &str,
    ) -> Result<Vec<CartItem>, RpcError> {
        let message = GetCartRequest {
            user_id: user_id.to_owned(),
        };
        let cart = calls
            .call_idempotent(
                "cart",
                &self.clients.cart,
                message,
                |mut client, r| async move { client.get_cart(r).await },
            )
            .await
            .map_err(|status| RpcError::from_downstream("cart", &status))?;
        Ok(cart.items)
    }

    /// Charges `total` to `card` under the idempotency key `key` (the order
    /// id); the transaction id on success. An answer that leaves the outcome
    /// open (a deadline, a dropped connection, an internal error) is resolved
    /// by resending the same charge with the same key, which a payment
    /// service that honours the key answers with the first charge's
    /// transaction id: never by charging with a new key. (Not the platform's
    /// `call_idempotent`: that retries `UNAVAILABLE` alone, while an open
    /// outcome here is any unclear answer, `CHARGE_ATTEMPTS` bounds it, and
    /// whether the card may have been charged must be known at the end.) A
    /// call this process refused without sending it (payment's breaker open,
    /// its bulkhead full) charged nothing; into an open breaker it is not
    /// resent. While the flag `paymentUnreachable` is on, the charge goes
    /// to a payment service that cannot be reached (as in the OpenTelemetry
    /// demo, which dials a bad address): the same calls, guards, resends and
    /// outcome as a real outage, with nothing sent.
    pub(super) async fn request_charge(
        &self,
        calls: &CallContext,
        key: &str,
        total: &Money,
        card: &CreditCardInfo,
    ) -> Result<String, ChargeFailure> {
        let message = ChargeRequest {
            amount: Some(total.clone().into()),
            credit_card: Some(card.clone()),
        };
        let key = MetadataValue::try_from(key).map_err(|_| {
            ChargeFailure::Failed(Status::internal(
                "the order id is not a valid metadata value",
            ))
        })?;
        let payment = if self.flags.bool(PAYMENT_UNREACHABLE).await {
            tracing::debug!(
                "Charging through an unreachable payment service (flag paymentUnreachable)."
            );
            &self.clients.unreachable_payment
        } else {
            &self.clients.payment
        };
        let mut maybe_charged = false;
        let mut attempt = 1;
        loop {
            let mut client = payment.clone();
            let key = key.clone();
            let sent = calls
                .call("payment", message.clone(), move |mut r| async move {
                    r.metadata_mut().insert(IDEMPOTENCY_KEY, key);
                    client.charge(r).await
                })
                .await;
            let status = match sent {
                Ok(reply) if !reply.transaction_id.is_empty() => return Ok(reply.transaction_id),
                Ok(_) => Status::unknown("the charge was answered without a transaction id"),
                Err(status) => status,
            };
            let code = status.code();
            let never_sent = rejected_locally(&status);
            if never_sent == Some(Rejection::BreakerOpen) {
                return Err(if maybe_charged {
                    ChargeFailure::Uncertain(format!("payment: {}", status.message()))
                } else {
                    ChargeFailure::Failed(status)
                });
            }
            if matches!(
                code,
                Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange
            ) {
                return Err(ChargeFailure::Declined(status));
            }
            // Not refused, not known to be done: the request may have been
            // carried out with only the answer lost (unavailable alone may
            // also mean it never left), so resend it while attempts remain.
            if matches!(
                code,
                Code::Unavailable
                    | Code::Unknown
                    | Code::Internal
                    | Code::DeadlineExceeded
                    | Code::Cancelled
                    | Code::Aborted
                    | Code::ResourceExhausted
            ) {
                maybe_charged |= code != Code::Unavailable && never_sent.is_none();
                if attempt < self.charge_attempts {
                    tracing::warn!(
                        attempt,
                        code = ?code,
                        "No clear answer to the charge; sending it again with the same key."
                    );
                    tokio::time::sleep(backoff(CHARGE_BACKOFF, attempt)).await;
                    attempt += 1;
                    continue;
                }
            }
            return Err(if maybe_charged {
                ChargeFailure::Uncertain(format!("payment: {}", status.message()))
            } else {
                ChargeFailure::Failed(status)
            });
        }
    }

    /// Ships the cart to `address`; the tracking id on success.
    pub(crate) async fn request_shipment(
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

    pub(crate) async fn empty_cart(
        &self,
        calls: &CallContext,
        user_id: &str,
    ) -> Result<(), Status> {
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

    pub(crate) async fn send_confirmation(
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
}
