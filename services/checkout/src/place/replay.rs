//! Answers from the record: the `OrderResult` of a placed order, and what a
//! repeated request gets, given where its order is now.

use boutique_platform::RpcError;
use boutique_proto::{
    Address, CartItem, OrderItem, OrderResult,
    boutique::orders::v1::{self as pb, OrderState as State},
};

use super::{charged_not_shipped, in_progress, payment_uncertain, pricing::Priced};

/// The answer to PlaceOrder, as upstream shapes it: each line's unit cost.
pub(crate) fn order_result(
    order_id: &str,
    tracking_id: &str,
    address: &Address,
    priced: &Priced,
) -> OrderResult {
    OrderResult {
        order_id: order_id.to_owned(),
        shipping_tracking_id: tracking_id.to_owned(),
        shipping_cost: Some(priced.shipping.clone().into()),
        shipping_address: Some(address.clone()),
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
    }
}

/// The same answer, made from the order's record.
pub(crate) fn recorded_result(order: &pb::Order) -> OrderResult {
    OrderResult {
        order_id: order.id.clone(),
        shipping_tracking_id: order.tracking_id.clone(),
        shipping_cost: order.shipping_cost.clone(),
        shipping_address: order.shipping_address.clone(),
        items: order
            .lines
            .iter()
            .map(|line| OrderItem {
                item: Some(CartItem {
                    product_id: line.product_id.clone(),
                    quantity: line.quantity,
                }),
                cost: line.unit_cost.clone(),
            })
            .collect(),
    }
}

/// What a request that repeats `order`'s gets: its result once shipped, its
/// failure once ended, "being placed" while it runs.
pub(crate) fn outcome(order: &pb::Order) -> Result<OrderResult, RpcError> {
    let state = State::try_from(order.state).unwrap_or(State::Unspecified);
    match state {
        State::Shipped | State::Dispatched | State::Delivered => Ok(recorded_result(order)),
        State::Declined => Err(RpcError::FailedPrecondition(order.reason.clone())),
        State::Failed => Err(RpcError::Unavailable(format!(
            "this order could not be placed and nothing was charged ({}); please place it again",
            order.reason
        ))),
        State::PaymentUncertain => Err(payment_uncertain(&order.id)),
        State::Charged | State::NeedsAttention => {
            Err(charged_not_shipped(&order.id, &order.reason, false))
        }
        State::Created | State::Unspecified => Err(in_progress(&order.id)),
    }
}
