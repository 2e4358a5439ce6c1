//! Rendering an order confirmation: a subject, a plain-text body and an HTML body.
//!
//! Rendering is independent of gRPC and SMTP, so tests check it without
//! either. The templates live in `templates/` and are compiled into the binary
//! by askama; the HTML one escapes every value (askama does so for `.html`
//! templates), so a hostile street address cannot inject markup. Amounts are
//! formatted once, here, by [`format_price`]: the formatter the storefront's
//! cart and order pages use too, so the email shows the same price text as
//! the page the shopper just saw (`€17.68`, `¥1200`).

use askama::Template;
use boutique_money::format_price;

use crate::order::OrderSummary;

/// A rendered confirmation, ready to be put in a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    /// The subject line.
    pub subject: String,
    /// The `text/plain` body.
    pub text: String,
    /// The `text/html` body.
    pub html: String,
}

/// A template failed to render (a bug, not bad input).
#[derive(Debug, thiserror::Error)]
#[error("cannot render the order confirmation")]
pub struct RenderError(#[from] askama::Error);

/// Renders the confirmation for a validated order.
pub fn render_confirmation(order: &OrderSummary) -> Result<Confirmation, RenderError> {
    let view = View::new(order);
    Ok(Confirmation {
        subject: format!("Your Boutique order {}", order.order_id),
        text: TextTemplate { view: &view }.render()?,
        html: HtmlTemplate { view: &view }.render()?,
    })
}

/// Everything the templates show, already formatted, so the templates hold
/// layout only and both versions say exactly the same thing.
struct View {
    order_id: String,
    tracking_id: String,
    lines: Vec<LineView>,
    item_count: i64,
    shipping: String,
    total: String,
    currency_code: String,
    address_lines: Vec<String>,
}

struct LineView {
    product_id: String,
    quantity: i32,
    unit_cost: String,
    line_total: String,
}

impl View {
    fn new(order: &OrderSummary) -> Self {
        let address = &order.address;
        // "City, State 12345": only the parts that are present.
        let locality = [address.city.trim(), address.state.trim()]
            .into_iter()
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join(", ");
        let locality = match address.zip_code {
            0 => locality,
            zip if locality.is_empty() => zip.to_string(),
            zip => format!("{locality} {zip}"),
        };
        let address_lines = [
            address.street_address.trim().to_owned(),
            locality,
            address.country.trim().to_owned(),
        ]
        .into_iter()
        .filter(|line| !line.is_empty())
        .collect();
        Self {
            order_id: order.order_id.clone(),
            tracking_id: if order.tracking_id.trim().is_empty() {
                "not yet assigned".to_owned()
            } else {
                order.tracking_id.clone()
            },
            lines: order
                .lines
                .iter()
                .map(|line| LineView {
                    product_id: line.product_id.clone(),
                    quantity: line.quantity,
                    unit_cost: format_price(&line.unit_cost),
                    line_total: format_price(&line.line_total),
                })
                .collect(),
            item_count: order
                .lines
                .iter()
                .map(|line| i64::from(line.quantity))
                .sum(),
            shipping: format_price(&order.shipping),
            total: format_price(&order.total),
            currency_code: order.currency_code().to_owned(),
            address_lines,
        }
    }
}

#[derive(Template)]
#[template(path = "confirmation.txt")]
struct TextTemplate<'a> {
    view: &'a View,
}

#[derive(Template)]
#[template(path = "confirmation.html")]
struct HtmlTemplate<'a> {
    view: &'a View,
}

#[cfg(test)]
mod tests {
    use boutique_proto::{Address, CartItem, OrderItem, OrderResult};

    use super::*;

    fn wire(code: &str, units: i64, nanos: i32) -> Option<boutique_proto::Money> {
        Some(
            boutique_money::Money::new(code, units, nanos)
                .unwrap()
                .into(),
        )
    }

    fn summary(street: &str) -> OrderSummary {
        let order = OrderResult {
            order_id: "f3b1c2d0-0000-11ee-8000-0242ac120002".into(),
            shipping_tracking_id: "XY-12345-678901234".into(),
            shipping_cost: wire("USD", 8, 990_000_000),
            shipping_address: Some(Address {
                street_address: street.into(),
                city: "Mountain View".into(),
                state: "CA".into(),
                country: "United States".into(),
                zip_code: 94043,
            }),
            items: vec![
                OrderItem {
                    item: Some(CartItem {
                        product_id: "OLJCESPC7Z".into(),
                        quantity: 1,
                    }),
                    cost: wire("USD", 34, 990_000_000),
                },
                OrderItem {
                    item: Some(CartItem {
                        product_id: "66VCHSJNUP".into(),
                        quantity: 7,
                    }),
                    cost: wire("USD", 0, 100_000_000),
                },
            ],
        };
        OrderSummary::try_from(&order).unwrap()
    }

    /// A yen order as checkout sends it: whole yen, no fractions.
    fn yen_summary() -> OrderSummary {
        let order = OrderResult {
            order_id: "order-jpy".into(),
            shipping_tracking_id: "JP-12345-678901234".into(),
            shipping_cost: wire("JPY", 1005, 0),
            shipping_address: Some(Address {
                street_address: "1-1 Chiyoda".into(),
                city: "Tokyo".into(),
                country: "Japan".into(),
                ..Address::default()
            }),
            items: vec![OrderItem {
                item: Some(CartItem {
                    product_id: "OLJCESPC7Z".into(),
                    quantity: 2,
                }),
                cost: wire("JPY", 2235, 0),
            }],
        };
        OrderSummary::try_from(&order).unwrap()
    }

    #[test]
    fn yen_are_shown_without_decimals() {
        let confirmation = render_confirmation(&yen_summary()).unwrap();
        let text = &confirmation.text;
        let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
        for expected in [
            "- OLJCESPC7Z x 2 at ¥2235 = ¥4470",
            "Shipping:       ¥1005",
            "Total (JPY):    ¥5475",
        ] {
            assert!(
                lines.contains(&expected),
                "missing {expected:?} in:\n{text}"
            );
        }
        for expected in ["¥2235", "¥4470", "¥1005", "¥5475"] {
            assert!(
                confirmation.html.contains(expected),
                "missing {expected:?} in:\n{}",
                confirmation.html
            );
        }
        assert!(!text.contains("¥2235."), "{text}");
        assert!(
            !confirmation.html.contains("¥5475."),
            "{}",
            confirmation.html
        );
    }

    #[test]
    fn the_text_version_lists_every_line_and_the_total() {
        let confirmation = render_confirmation(&summary("1600 Amphitheatre Parkway")).unwrap();
        assert_eq!(
            confirmation.subject,
            "Your Boutique order f3b1c2d0-0000-11ee-8000-0242ac120002"
        );
        let text = &confirmation.text;
        let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
        for expected in [
            "Order number:   f3b1c2d0-0000-11ee-8000-0242ac120002",
            "Tracking:       XY-12345-678901234",
            "- OLJCESPC7Z x 1 at $34.99 = $34.99",
            "- 66VCHSJNUP x 7 at $0.10 = $0.70",
            "Shipping:       $8.99",
            "Total (USD):    $44.68",
            "  1600 Amphitheatre Parkway",
            "  Mountain View, CA 94043",
            "  United States",
        ] {
            assert!(
                lines.contains(&expected),
                "missing {expected:?} in:\n{text}"
            );
        }
        assert!(text.contains("8 items"), "{text}");
    }

    #[test]
    fn the_html_version_shows_the_same_facts() {
        let html = render_confirmation(&summary("1600 Amphitheatre Parkway"))
            .unwrap()
            .html;
        for expected in [
            "<!DOCTYPE html>",
            "f3b1c2d0-0000-11ee-8000-0242ac120002",
            "XY-12345-678901234",
            "OLJCESPC7Z",
            "66VCHSJNUP",
            "$34.99",
            "$0.70",
            "$8.99",
            "$44.68",
            "Mountain View, CA 94043",
        ] {
            assert!(html.contains(expected), "missing {expected:?} in:\n{html}");
        }
        // Email clients drop <style> blocks and external sheets: styles are inline.
        assert!(!html.contains("<style"), "{html}");
        assert!(!html.contains("<link"), "{html}");
    }

    #[test]
    fn escapes_hostile_input_in_html_only() {
        let hostile = r#"<script>alert("x")</script> & Co"#;
        let confirmation = render_confirmation(&summary(hostile)).unwrap();
        assert!(
            !confirmation.html.contains("<script"),
            "{}",
            confirmation.html
        );
        assert!(
            confirmation
                .html
                .contains("&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#38; Co"),
            "{}",
            confirmation.html
        );
        // Plain text is not HTML: escaping it would garble the address.
        assert!(confirmation.text.contains(hostile), "{}", confirmation.text);
    }

    #[test]
    fn a_missing_tracking_id_reads_as_not_yet_assigned() {
        let mut order = summary("1 Main St");
        order.tracking_id = String::new();
        let confirmation = render_confirmation(&order).unwrap();
        assert!(confirmation.text.contains("not yet assigned"));
        assert!(confirmation.html.contains("not yet assigned"));
    }
}
