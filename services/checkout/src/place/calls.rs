//! The single downstream calls the steps are made of, besides pricing: get
//! the cart, charge the card, ship, empty the cart, send the email. Each is
//! one RPC with its answer read; what a failure means for the order is for
//! the step that made the call.

use boutique_money::Money;
use boutique_platform::{RpcError, call::CallContext};
use boutique_proto::{
    Address, CartItem, ChargeRequest, CreditCardInfo, EmptyCartRequest, GetCartRequest,
    OrderResult, SendOrderConfirmationRequest, ShipOrderRequest,
};
use tonic::{Code, Status};

use super::Checkout;

/// Why the charge did not go through.
#[derive(Debug)]
pub(super) enum ChargeFailure {
    /// The payment service refused the card or the request.
    Declined(Status),
    /// The payment service failed or could not be reached; nothing was charged.
    Failed(Status),
    /// No clear answer: the card may have been charged.
    Uncertain(String),
}

impl Checkout {
    /// The shopper's cart.
    pub(super) async fn get_cart(
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

    /// Charges `total` to `card`; the transaction id on success.
    pub(super) async fn request_charge(
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

    /// Ships the cart to `address`; the tracking id on success.
    pub(super) async fn request_shipment(
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

    pub(super) async fn empty_cart(
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

    pub(super) async fn send_confirmation(
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
