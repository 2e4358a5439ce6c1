//! A checked view of the order an email is about.
//!
//! The wire `OrderResult` is all optional fields and raw integers. Before
//! anything is rendered it becomes an [`OrderSummary`]: every amount is a valid
//! [`Money`], everything is in one currency, and the line totals and the order
//! total are computed here with exact integer arithmetic, so the email can never
//! show a total that does not add up.

use boutique_money::{Money, MoneyError};
use boutique_proto::{Address, OrderResult};

/// Why an order cannot be confirmed; the message names the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidOrder(String);

impl InvalidOrder {
    fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// One line of the order: a product, how many, and what they cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine {
    /// The catalog id of the product.
    pub product_id: String,
    /// How many were ordered (at least one).
    pub quantity: i32,
    /// The price of one, in the order currency.
    pub unit_cost: Money,
    /// `unit_cost × quantity`.
    pub line_total: Money,
}

/// A validated order, ready to render.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderSummary {
    /// The order id (never empty).
    pub order_id: String,
    /// The shipping tracking id; may be empty if the order is not shipped yet.
    pub tracking_id: String,
    /// The lines, in the order given.
    pub lines: Vec<OrderLine>,
    /// The shipping cost.
    pub shipping: Money,
    /// The sum of the line totals plus shipping.
    pub total: Money,
    /// Where the order goes.
    pub address: Address,
}

impl OrderSummary {
    /// The currency every amount of the order is in.
    pub fn currency_code(&self) -> &str {
        self.total.currency_code()
    }
}

impl TryFrom<&OrderResult> for OrderSummary {
    type Error = InvalidOrder;

    fn try_from(order: &OrderResult) -> Result<Self, InvalidOrder> {
        if order.order_id.trim().is_empty() {
            return Err(InvalidOrder::new("order.order_id is required"));
        }
        let address = order
            .shipping_address
            .clone()
            .ok_or_else(|| InvalidOrder::new("order.shipping_address is required"))?;
        let shipping = money_field("order.shipping_cost", order.shipping_cost.as_ref())?;
        // Shipping is always present, so its currency is the order's currency.
        let currency = shipping.currency_code().to_owned();

        let mut lines = Vec::with_capacity(order.items.len());
        for (index, item) in order.items.iter().enumerate() {
            let field = format!("order.items[{index}]");
            let cart_item = item
                .item
                .as_ref()
                .ok_or_else(|| InvalidOrder::new(format!("{field}.item is required")))?;
            if cart_item.product_id.trim().is_empty() {
                return Err(InvalidOrder::new(format!(
                    "{field}.item.product_id is required"
                )));
            }
            if cart_item.quantity < 1 {
                return Err(InvalidOrder::new(format!(
                    "{field}.item.quantity is {}; it must be at least 1",
                    cart_item.quantity
                )));
            }
            let cost_field = format!("{field}.cost");
            let unit_cost = money_field(&cost_field, item.cost.as_ref())?;
            same_currency(&cost_field, &unit_cost, &currency)?;
            let line_total = unit_cost
                .checked_mul(i64::from(cart_item.quantity))
                .map_err(|e| InvalidOrder::new(format!("{field}: line total: {e}")))?;
            lines.push(OrderLine {
                product_id: cart_item.product_id.clone(),
                quantity: cart_item.quantity,
                unit_cost,
                line_total,
            });
        }

        let total = lines
            .iter()
            .try_fold(shipping.clone(), |total, line| {
                total.checked_add(&line.line_total)
            })
            .map_err(|e| InvalidOrder::new(format!("order total: {e}")))?;

        Ok(Self {
            order_id: order.order_id.clone(),
            tracking_id: order.shipping_tracking_id.clone(),
            lines,
            shipping,
            total,
            address,
        })
    }
}

fn money_field(field: &str, money: Option<&boutique_proto::Money>) -> Result<Money, InvalidOrder> {
    let money = money.ok_or_else(|| InvalidOrder::new(format!("{field} is required")))?;
    Money::try_from(money).map_err(|e: MoneyError| InvalidOrder::new(format!("{field}: {e}")))
}

fn same_currency(field: &str, money: &Money, currency: &str) -> Result<(), InvalidOrder> {
    if money.currency_code() == currency {
        Ok(())
    } else {
        Err(InvalidOrder::new(format!(
            "{field} is in {} but the order is in {currency}; all amounts must share one currency",
            money.currency_code()
        )))
    }
}

#[cfg(test)]
mod tests {
    use boutique_proto::{CartItem, OrderItem};

    use super::*;

    fn money(code: &str, units: i64, nanos: i32) -> Option<boutique_proto::Money> {
        Some(boutique_proto::Money {
            currency_code: code.into(),
            units,
            nanos,
        })
    }

    fn item(id: &str, quantity: i32, cost: Option<boutique_proto::Money>) -> OrderItem {
        OrderItem {
            item: Some(CartItem {
                product_id: id.into(),
                quantity,
            }),
            cost,
        }
    }

    fn order(items: Vec<OrderItem>) -> OrderResult {
        OrderResult {
            order_id: "order-1".into(),
            shipping_tracking_id: "AB-12345-678901234".into(),
            shipping_cost: money("EUR", 8, 150_000_000),
            shipping_address: Some(Address::default()),
            items,
        }
    }

    #[test]
    fn computes_line_totals_and_the_total_exactly() {
        let summary = OrderSummary::try_from(&order(vec![
            item("A", 3, money("EUR", 19, 995_000_000)),
            item("B", 2, money("EUR", 5, 500_000_000)),
        ]))
        .unwrap();
        assert_eq!(
            summary.lines[0].line_total,
            Money::new("EUR", 59, 985_000_000).unwrap()
        );
        assert_eq!(
            summary.lines[1].line_total,
            Money::new("EUR", 11, 0).unwrap()
        );
        // 59.985 + 11.00 + 8.15
        assert_eq!(summary.total, Money::new("EUR", 79, 135_000_000).unwrap());
        assert_eq!(summary.currency_code(), "EUR");
    }

    #[test]
    fn an_order_without_items_costs_its_shipping() {
        let summary = OrderSummary::try_from(&order(vec![])).unwrap();
        assert_eq!(summary.total, summary.shipping);
    }

    #[test]
    fn names_the_field_that_is_wrong() {
        let cases = [
            (
                OrderResult {
                    order_id: " ".into(),
                    ..order(vec![])
                },
                "order.order_id is required",
            ),
            (
                OrderResult {
                    shipping_cost: None,
                    ..order(vec![])
                },
                "order.shipping_cost is required",
            ),
            (
                OrderResult {
                    shipping_address: None,
                    ..order(vec![])
                },
                "order.shipping_address is required",
            ),
            (
                order(vec![item("A", 1, money("USD", 1, 0))]),
                "order.items[0].cost is in USD but the order is in EUR",
            ),
            (
                order(vec![item("A", 1, money("EUR", 1, -5))]),
                "order.items[0].cost: units 1 and nanos -5 have different signs",
            ),
            (
                order(vec![item("A", 1, money("EUR", 1, 1_000_000_000))]),
                "order.items[0].cost: nanos",
            ),
            (
                order(vec![item("A", 1, money("eur", 1, 0))]),
                "order.items[0].cost: currency code",
            ),
            (
                order(vec![item("A", 1, None)]),
                "order.items[0].cost is required",
            ),
            (
                order(vec![item("A", 0, money("EUR", 1, 0))]),
                "quantity is 0",
            ),
            (
                order(vec![item("", 1, money("EUR", 1, 0))]),
                "order.items[0].item.product_id is required",
            ),
            (
                order(vec![OrderItem {
                    item: None,
                    cost: money("EUR", 1, 0),
                }]),
                "order.items[0].item is required",
            ),
            (
                order(vec![item("A", i32::MAX, money("EUR", i64::MAX, 0))]),
                "order.items[0]: line total: amount out of range",
            ),
            (
                order(vec![
                    item("A", 1, money("EUR", i64::MAX, 0)),
                    item("B", 1, money("EUR", i64::MAX, 0)),
                ]),
                "order total: amount out of range",
            ),
        ];
        for (order, expected) in cases {
            let error = OrderSummary::try_from(&order).unwrap_err();
            assert!(
                error.to_string().contains(expected),
                "{error} should contain {expected:?}"
            );
        }
    }
}
