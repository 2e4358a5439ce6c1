//! What the storefront reads from the orders service, for the order pages
//! and the JSON API alike: whose orders a request may see, and how an
//! order's states, times and amounts are named.
//!
//! **The owner rule.** A guest's orders are those whose `owner` is their
//! session id (checkout records the PlaceOrder `user_id`, which the
//! storefront sets to the session id). A list asks for the session's orders
//! only; a single order is shown only when its owner is the session, and is
//! otherwise a 404 exactly like an id that does not exist, so nobody learns
//! which ids are orders. The owner (and the cart id, which is the same id)
//! never leaves this module: pages and JSON carry neither.

use boutique_money::Money;
use boutique_proto::boutique::orders::v1::{ListOrdersResponse, Order, OrderState};
use time::OffsetDateTime;
use tonic::Code;

use crate::{
    State,
    error::AppError,
    validate::{self, OrdersPage},
};

/// One page of `owner`'s orders (a session id: the pages pass the
/// session's, the API its caller's), newest first. A page token the orders
/// service refuses is the client's mistake (400), not ours.
pub(crate) async fn list(
    state: &State,
    owner: &str,
    page: &OrdersPage,
) -> Result<ListOrdersResponse, AppError> {
    if owner.is_empty() {
        // No session, no orders (only sessionless routes lack one).
        return Ok(ListOrdersResponse::default());
    }
    state
        .backends
        .list_orders(owner, page.page_size, &page.page_token)
        .await
        .map_err(|error| match error.code() {
            // The request is ours but for the token, so the token it is.
            Some(Code::InvalidArgument) => AppError::BadQuery(vec![validate::bad_page_token()]),
            _ => AppError::Backend(error),
        })
}

/// The order `raw_id` names, if `owner` owns it; a 404 for an id that
/// cannot be an order, one that does not exist and one owned by someone else
/// alike (see the module documentation).
pub(crate) async fn owned(state: &State, owner: &str, raw_id: &str) -> Result<Order, AppError> {
    let Some(id) = validate::order_id(raw_id) else {
        return Err(AppError::NotFound);
    };
    let order = state
        .backends
        .get_order(&id)
        .await
        .map_err(|error| match error.code() {
            Some(Code::NotFound) => AppError::NotFound,
            _ => AppError::Backend(error),
        })?;
    if owner.is_empty() || order.owner != owner {
        // Worth a line: someone holds another shopper's order id. The id is
        // no secret of the owner's (unlike the session), so it may be logged.
        tracing::info!(order_id = %order.id, "Order asked for by a session that does not own it.");
        return Err(AppError::NotFound);
    }
    Ok(order)
}

/// A state as shoppers read it.
pub(crate) fn state_label(state: OrderState) -> &'static str {
    match state {
        OrderState::Created => "Placed",
        OrderState::Charged => "Charged",
        OrderState::Shipped => "Shipped",
        OrderState::Dispatched => "Dispatched",
        OrderState::Delivered => "Delivered",
        OrderState::Declined => "Declined",
        OrderState::Failed => "Failed",
        OrderState::PaymentUncertain => "Payment being checked",
        OrderState::NeedsAttention => "Needs attention by our team",
        // A state newer than this storefront.
        OrderState::Unspecified => "Unknown",
    }
}

/// A state as the JSON API names it (the orders service's stored names);
/// also the suffix of the state's CSS class.
pub(crate) fn state_name(state: OrderState) -> &'static str {
    match state {
        OrderState::Created => "created",
        OrderState::Charged => "charged",
        OrderState::Shipped => "shipped",
        OrderState::Dispatched => "dispatched",
        OrderState::Delivered => "delivered",
        OrderState::Declined => "declined",
        OrderState::Failed => "failed",
        OrderState::PaymentUncertain => "payment_uncertain",
        OrderState::NeedsAttention => "needs_attention",
        OrderState::Unspecified => "unspecified",
    }
}

/// The state of a wire value: prost reads a number it does not know as
/// `Unspecified`, which the functions above call unknown.
pub(crate) fn state_of(value: i32) -> OrderState {
    OrderState::try_from(value).unwrap_or(OrderState::Unspecified)
}

/// An amount the orders service sent, checked; `None` when it sent none
/// (an order not priced yet). Invalid money is the service's fault.
pub(crate) fn money(amount: Option<&boutique_proto::Money>) -> Result<Option<Money>, AppError> {
    amount
        .map(Money::try_from)
        .transpose()
        .map_err(|error| AppError::Internal(format!("the orders service sent bad money: {error}")))
}

/// How many items an order holds (the sum of its quantities).
pub(crate) fn item_count(order: &Order) -> i64 {
    order
        .lines
        .iter()
        .map(|line| i64::from(line.quantity))
        .sum()
}

/// A time the orders service sent (milliseconds since the Unix epoch), in UTC.
pub(crate) fn utc(ms: i64) -> Result<OffsetDateTime, AppError> {
    let bad = || AppError::Internal(format!("the orders service sent a bad time: {ms}"));
    if ms < 0 {
        return Err(bad());
    }
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).map_err(|_| bad())
}

/// RFC 3339 in UTC with milliseconds, the orders service's precision:
/// `2025-03-04T14:05:09.120Z`.
pub(crate) fn rfc3339(at: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
}

/// A date as the pages show it: `4 March 2025`.
pub(crate) fn display_date(at: OffsetDateTime) -> String {
    format!("{} {} {}", at.day(), at.month(), at.year())
}

/// A moment as the pages show it, in UTC (the shop does not know the
/// shopper's zone, and saying so beats guessing): `4 March 2025, 14:05 UTC`.
pub(crate) fn display_time(at: OffsetDateTime) -> String {
    format!(
        "{}, {:02}:{:02} UTC",
        display_date(at),
        at.hour(),
        at.minute()
    )
}

/// A query value percent-encoded (everything but RFC 3986's unreserved
/// characters), for the links to the next page.
pub(crate) fn query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_every_state() {
        let states = [
            (OrderState::Created, "Placed", "created"),
            (OrderState::Charged, "Charged", "charged"),
            (OrderState::Shipped, "Shipped", "shipped"),
            (OrderState::Dispatched, "Dispatched", "dispatched"),
            (OrderState::Delivered, "Delivered", "delivered"),
            (OrderState::Declined, "Declined", "declined"),
            (OrderState::Failed, "Failed", "failed"),
            (
                OrderState::PaymentUncertain,
                "Payment being checked",
                "payment_uncertain",
            ),
            (
                OrderState::NeedsAttention,
                "Needs attention by our team",
                "needs_attention",
            ),
        ];
        for (state, label, name) in states {
            assert_eq!((state_label(state), state_name(state)), (label, name));
            assert_eq!(state_of(state.into()), state);
        }
        assert_eq!(state_of(99), OrderState::Unspecified);
        assert_eq!(state_label(state_of(99)), "Unknown");
    }

    #[test]
    fn writes_times_in_utc() {
        // 2025-03-04T14:05:09.120Z
        let at = utc(1_741_097_109_120).unwrap();
        assert_eq!(rfc3339(at), "2025-03-04T14:05:09.120Z");
        assert_eq!(display_date(at), "4 March 2025");
        assert_eq!(display_time(at), "4 March 2025, 14:05 UTC");
        assert_eq!(rfc3339(utc(0).unwrap()), "1970-01-01T00:00:00.000Z");
        assert!(utc(-1).is_err());
        assert!(utc(i64::MAX).is_err());
    }

    #[test]
    fn encodes_query_values() {
        assert_eq!(query_value("1741097109120:ab-cd"), "1741097109120%3Aab-cd");
        assert_eq!(query_value("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }

    #[test]
    fn counts_items_and_checks_money() {
        use boutique_proto::boutique::orders::v1::OrderLine;
        let order = Order {
            lines: vec![
                OrderLine {
                    quantity: 2,
                    ..OrderLine::default()
                },
                OrderLine {
                    quantity: 3,
                    ..OrderLine::default()
                },
            ],
            ..Order::default()
        };
        assert_eq!(item_count(&order), 5);
        assert_eq!(money(None).unwrap(), None);
        let good = boutique_proto::Money {
            currency_code: "EUR".to_owned(),
            units: 1,
            nanos: 500_000_000,
        };
        assert_eq!(money(Some(&good)).unwrap().unwrap().units(), 1);
        let bad = boutique_proto::Money { nanos: -1, ..good };
        assert!(money(Some(&bad)).is_err());
    }
}
