//! Between the wire (`boutique.orders.v1`) and the store's types.

use boutique_money::Money;
use boutique_platform::RpcError;
use boutique_proto::{Address, boutique::orders::v1 as pb};
use boutique_store::orders::{HistoryEntry, Order, OrderLine, OrderState, ShippingAddress};

/// The wire's state.
pub(crate) fn state_to_wire(state: OrderState) -> pb::OrderState {
    match state {
        OrderState::Created => pb::OrderState::Created,
        OrderState::Charged => pb::OrderState::Charged,
        OrderState::Shipped => pb::OrderState::Shipped,
        OrderState::Dispatched => pb::OrderState::Dispatched,
        OrderState::Delivered => pb::OrderState::Delivered,
        OrderState::Declined => pb::OrderState::Declined,
        OrderState::Failed => pb::OrderState::Failed,
        OrderState::PaymentUncertain => pb::OrderState::PaymentUncertain,
        OrderState::NeedsAttention => pb::OrderState::NeedsAttention,
    }
}

/// The store's state, or `INVALID_ARGUMENT` for an unknown or unset one.
pub(crate) fn state_from_wire(value: i32) -> Result<OrderState, RpcError> {
    let state = match pb::OrderState::try_from(value) {
        Ok(pb::OrderState::Created) => OrderState::Created,
        Ok(pb::OrderState::Charged) => OrderState::Charged,
        Ok(pb::OrderState::Shipped) => OrderState::Shipped,
        Ok(pb::OrderState::Dispatched) => OrderState::Dispatched,
        Ok(pb::OrderState::Delivered) => OrderState::Delivered,
        Ok(pb::OrderState::Declined) => OrderState::Declined,
        Ok(pb::OrderState::Failed) => OrderState::Failed,
        Ok(pb::OrderState::PaymentUncertain) => OrderState::PaymentUncertain,
        Ok(pb::OrderState::NeedsAttention) => OrderState::NeedsAttention,
        Ok(pb::OrderState::Unspecified) | Err(_) => {
            return Err(RpcError::invalid(format!("unknown order state {value}")));
        }
    };
    Ok(state)
}

pub(crate) fn address_from_wire(address: Option<Address>) -> ShippingAddress {
    let address = address.unwrap_or_default();
    ShippingAddress {
        street_address: address.street_address,
        city: address.city,
        state: address.state,
        country: address.country,
        zip_code: address.zip_code,
    }
}

fn address_to_wire(address: ShippingAddress) -> Address {
    Address {
        street_address: address.street_address,
        city: address.city,
        state: address.state,
        country: address.country,
        zip_code: address.zip_code,
    }
}

/// An amount the caller must send, valid.
pub(crate) fn money_from_wire(
    what: &str,
    money: Option<boutique_proto::Money>,
) -> Result<Money, RpcError> {
    let money = money.ok_or_else(|| RpcError::invalid(format!("{what} is missing")))?;
    Money::try_from(money).map_err(|e| RpcError::invalid(format!("{what}: {e}")))
}

pub(crate) fn lines_from_wire(lines: Vec<pb::OrderLine>) -> Result<Vec<OrderLine>, RpcError> {
    lines
        .into_iter()
        .map(|line| {
            if line.product_id.is_empty() || line.quantity <= 0 {
                return Err(RpcError::invalid(
                    "every line needs a product id and a positive quantity",
                ));
            }
            Ok(OrderLine {
                unit_cost: money_from_wire("unit_cost", line.unit_cost)?,
                product_id: line.product_id,
                quantity: line.quantity,
            })
        })
        .collect()
}

/// The wire's order.
pub(crate) fn order_to_wire(order: Order) -> pb::Order {
    pb::Order {
        id: order.id,
        owner: order.owner,
        cart_id: order.cart_id,
        state: state_to_wire(order.state).into(),
        email: order.email,
        shipping_address: Some(address_to_wire(order.address)),
        currency_code: order.currency_code,
        lines: order
            .lines
            .into_iter()
            .map(|line| pb::OrderLine {
                product_id: line.product_id,
                quantity: line.quantity,
                unit_cost: Some(line.unit_cost.into()),
            })
            .collect(),
        shipping_cost: order.shipping_cost.map(Into::into),
        total: order.total.map(Into::into),
        card_last_four: order.card_last_four,
        transaction_id: order.transaction_id.unwrap_or_default(),
        tracking_id: order.tracking_id.unwrap_or_default(),
        reason: order.reason,
        cart_emptied: order.cart_emptied,
        confirmation_sent: order.confirmation_sent,
        warnings: order.warnings,
        reconcile_attempts: order.reconcile_attempts,
        history: order.history.into_iter().map(history_to_wire).collect(),
        created_at_ms: order.created_at_ms,
        updated_at_ms: order.updated_at_ms,
    }
}

fn history_to_wire(entry: HistoryEntry) -> pb::StateChange {
    pb::StateChange {
        state: state_to_wire(entry.state).into(),
        at_ms: entry.at_ms,
        note: entry.note,
    }
}

/// A page token: the last order of the page, `created_at_ms:id`.
pub(crate) fn page_token(order: &pb::Order) -> String {
    format!("{}:{}", order.created_at_ms, order.id)
}

/// The position a page token names, or `INVALID_ARGUMENT`.
pub(crate) fn parse_page_token(token: &str) -> Result<Option<(i64, String)>, RpcError> {
    if token.is_empty() {
        return Ok(None);
    }
    token
        .split_once(':')
        .and_then(|(ms, id)| Some((ms.parse().ok()?, id.to_owned())))
        .map(Some)
        .ok_or_else(|| RpcError::invalid("page_token is not one this service gave out"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_crosses_the_wire_and_back() {
        for state in OrderState::ALL {
            let wire: i32 = state_to_wire(state).into();
            assert_eq!(state_from_wire(wire).unwrap(), state);
        }
        assert!(state_from_wire(0).is_err());
        assert!(state_from_wire(99).is_err());
    }

    #[test]
    fn page_tokens_round_trip_and_junk_is_refused() {
        let order = pb::Order {
            id: "a:b".to_owned(),
            created_at_ms: 42,
            ..Default::default()
        };
        assert_eq!(
            parse_page_token(&page_token(&order)).unwrap(),
            Some((42, "a:b".to_owned()))
        );
        assert_eq!(parse_page_token("").unwrap(), None);
        assert!(parse_page_token("nope").is_err());
    }
}
