//! Placing orders against the real shop: totals, the amount charged,
//! tracking ids, the emptied cart, the order record, and every refusal
//! before the charge.

use boutique_money::{Money, nanos_per_minor_unit};
use boutique_proto::{CreditCardInfo, OrderResult, PlaceOrderRequest};
use boutique_store::orders::OrderState;
use tonic::Code;

use crate::{
    fakes::CountingPayment,
    helpers::{Shop, order_request},
};

/// Breaks one thing in a good request.
type Spoil = fn(&mut PlaceOrderRequest);

/// What the shopper's cart holds in these tests.
const CART: [(&str, i32); 3] = [("OLJCESPC7Z", 2), ("66VCHSJNUP", 1), ("9SIQT8TOJO", 3)];

async fn fill_cart(shop: &mut Shop, user_id: &str) {
    for (product_id, quantity) in CART {
        shop.add(user_id, product_id, quantity).await;
    }
}

/// The total an order's lines and shipping add up to.
fn total_of(order: &OrderResult, currency: &str) -> Money {
    let mut amounts = vec![Money::try_from(order.shipping_cost.clone().unwrap()).unwrap()];
    for line in &order.items {
        let unit = Money::try_from(line.cost.clone().unwrap()).unwrap();
        let quantity = line.item.as_ref().unwrap().quantity;
        amounts.push(unit.checked_mul(i64::from(quantity)).unwrap());
    }
    Money::sum(currency, &amounts).unwrap()
}

/// Checks the tracking id's upstream shape for the test address:
/// "1600 Amphitheatre Parkway, Mountain View, CA" is 44 bytes long.
fn assert_tracking_id_shape(id: &str) {
    let parts: Vec<&str> = id.split('-').collect();
    assert_eq!(parts.len(), 3, "{id}");
    assert!(
        parts[0].len() == 2 && parts[0].bytes().all(|b| b.is_ascii_uppercase()),
        "{id}"
    );
    assert!(parts[1].starts_with("44") && parts[1].len() == 5, "{id}");
    assert!(parts[2].starts_with("22") && parts[2].len() == 9, "{id}");
    assert!(
        parts[1..]
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_digit())),
        "{id}"
    );
}

async fn places_an_order_in(currency: &str) {
    let mut shop = Shop::start().await;
    let user = format!("shopper-{currency}");
    fill_cart(&mut shop, &user).await;

    let order = shop
        .client
        .place_order(order_request(&user, currency))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();

    // Prices computed without checkout: catalog price, converted by the
    // currency service; shipping is the flat USD 8.99, converted. Each is
    // rounded once to the currency's minor unit.
    let expected_shipping = shop
        .convert(shipping_usd(), currency)
        .await
        .round_to_minor_unit()
        .unwrap();
    let mut expected_amounts = vec![expected_shipping.clone()];
    let mut expected_lines = Vec::new();
    for (product_id, quantity) in CART {
        let unit = shop
            .unit_price(product_id, currency)
            .await
            .round_to_minor_unit()
            .unwrap();
        expected_amounts.push(unit.checked_mul(i64::from(quantity)).unwrap());
        expected_lines.push((product_id.to_owned(), quantity, unit));
    }
    let expected_total = Money::sum(currency, &expected_amounts).unwrap();

    let mut lines: Vec<(String, i32, Money)> = order
        .items
        .iter()
        .map(|line| {
            let item = line.item.clone().unwrap();
            let cost = Money::try_from(line.cost.clone().unwrap()).unwrap();
            (item.product_id, item.quantity, cost)
        })
        .collect();
    lines.sort_by(|a, b| a.0.cmp(&b.0));
    expected_lines.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(lines, expected_lines, "unit costs in {currency}");
    assert_eq!(
        Money::try_from(order.shipping_cost.clone().unwrap()).unwrap(),
        expected_shipping
    );
    assert_eq!(total_of(&order, currency), expected_total);
    assert_eq!(order.shipping_address, Some(crate::helpers::address()));
    assert_tracking_id_shape(&order.shipping_tracking_id);
    uuid::Uuid::parse_str(&order.order_id).unwrap();

    assert!(shop.cart_of(&user).await.is_empty(), "the cart is emptied");

    let record = shop.record(&order.order_id).await;
    uuid::Uuid::parse_str(record.transaction_id.as_deref().unwrap()).unwrap();
    assert_eq!(
        record.tracking_id.as_ref(),
        Some(&order.shipping_tracking_id)
    );
    assert_eq!(record.total, Some(expected_total), "the amount charged");
    assert_eq!(record.card_last_four, "0454");
    assert!(record.cart_emptied && record.confirmation_sent);
    assert!(record.warnings.is_empty(), "{:?}", record.warnings);
    let states: Vec<&str> = record.history.iter().map(|c| c.state.as_str()).collect();
    assert_eq!(states, ["created", "charged", "shipped"]);
    // No card number anywhere in the record.
    assert!(!format!("{record:?}").contains("44328015"));
    shop.stop().await;
}

#[tokio::test]
async fn places_an_order_in_usd() {
    places_an_order_in("USD").await;
}

#[tokio::test]
async fn places_an_order_in_eur() {
    places_an_order_in("EUR").await;
}

#[tokio::test]
async fn places_an_order_in_jpy() {
    places_an_order_in("JPY").await;
}

/// The flat shipping cost the real shipping service quotes.
fn shipping_usd() -> boutique_proto::Money {
    boutique_proto::Money {
        currency_code: "USD".into(),
        units: 8,
        nanos: 990_000_000,
    }
}

/// What the payment service is asked to charge is what the order shows: a
/// whole number of the currency's minor units, equal to the order's rounded
/// lines plus shipping.
async fn charges_what_the_order_shows(currency: &str) {
    let payment = CountingPayment::default();
    let fake = payment.spawn().await;
    let mut shop = Shop::start_with(vec![("payment", fake)]).await;
    let user = format!("exact-{currency}");
    fill_cart(&mut shop, &user).await;

    let order = shop
        .client
        .place_order(order_request(&user, currency))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();

    let amounts = payment.amounts();
    assert_eq!(amounts.len(), 1, "one charge");
    let charged = Money::try_from(amounts[0].clone()).unwrap();
    assert_eq!(charged.currency_code(), currency);
    let step = nanos_per_minor_unit(currency);
    assert_eq!(
        i64::from(charged.nanos()) % step,
        0,
        "{charged:?} has a fraction of the minor unit"
    );
    if currency == "JPY" {
        assert_eq!(charged.nanos(), 0, "yen have no minor unit: {charged:?}");
    }
    // Every amount the order shows is in minor units too, and they add up.
    let shipping = Money::try_from(order.shipping_cost.clone().unwrap()).unwrap();
    assert!(shipping.is_in_minor_units(), "{shipping:?}");
    for line in &order.items {
        let unit = Money::try_from(line.cost.clone().unwrap()).unwrap();
        assert!(unit.is_in_minor_units(), "{unit:?}");
    }
    assert_eq!(total_of(&order, currency), charged);
    assert_eq!(shop.record(&order.order_id).await.total, Some(charged));

    // Without the rounding, these prices would not come to whole minor
    // units outside USD: the test would catch a charge with a fraction.
    let mut unrounded = vec![shop.convert(shipping_usd(), currency).await];
    for (product_id, quantity) in CART {
        let unit = shop.unit_price(product_id, currency).await;
        unrounded.push(unit.checked_mul(i64::from(quantity)).unwrap());
    }
    let unrounded = Money::sum(currency, &unrounded).unwrap();
    assert_eq!(
        unrounded.is_in_minor_units(),
        currency == "USD",
        "{unrounded:?}"
    );
    shop.stop().await;
}

#[tokio::test]
async fn charges_what_the_order_shows_in_usd() {
    charges_what_the_order_shows("USD").await;
}

#[tokio::test]
async fn charges_what_the_order_shows_in_eur() {
    charges_what_the_order_shows("EUR").await;
}

#[tokio::test]
async fn charges_what_the_order_shows_in_jpy() {
    charges_what_the_order_shows("JPY").await;
}

#[tokio::test]
async fn an_empty_cart_is_refused() {
    let mut shop = Shop::start().await;
    let status = shop
        .client
        .place_order(order_request("nobody", "USD"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(status.message(), "cart is empty");
    assert!(shop.records().await.is_empty(), "nothing recorded");
    shop.stop().await;
}

#[tokio::test]
async fn bad_requests_are_invalid_arguments_and_charge_nothing() {
    let mut shop = Shop::start().await;
    fill_cart(&mut shop, "careless").await;
    let cases: [(Spoil, &str); 7] = [
        (|r| r.user_currency = "XYZ".into(), "not supported"),
        (|r| r.user_currency = "usd".into(), "user_currency"),
        (|r| r.address = None, "address is required"),
        (|r| r.address.as_mut().unwrap().city.clear(), "address.city"),
        (|r| r.credit_card = None, "credit_card is required"),
        (|r| r.email.clear(), "email is required"),
        (|r| r.user_id.clear(), "user_id is required"),
    ];
    for (spoil, expected) in cases {
        let mut request = order_request("careless", "USD");
        spoil(&mut request);
        let status = shop.client.place_order(request).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(status.message().contains(expected), "{status:?}");
    }
    assert!(shop.records().await.is_empty(), "nothing recorded");
    assert_eq!(shop.cart_of("careless").await.len(), CART.len());
    shop.stop().await;
}

#[tokio::test]
async fn declined_cards_keep_the_payment_services_reason() {
    let mut shop = Shop::start().await;
    fill_cart(&mut shop, "unlucky").await;
    let card = |number: &str, year: i32| CreditCardInfo {
        credit_card_number: number.into(),
        credit_card_cvv: 672,
        credit_card_expiration_year: year,
        credit_card_expiration_month: 1,
    };
    let cases = [
        (
            card("4432801561520454", 2020),
            Code::FailedPrecondition,
            "Your credit card (ending 0454) expired on 1/2020",
        ),
        (
            card("378282246310005", 2039),
            Code::FailedPrecondition,
            "Sorry, we cannot process amex credit cards. Only VISA or MasterCard is accepted.",
        ),
        (
            card("4432801561520455", 2039),
            Code::InvalidArgument,
            "Credit card info is invalid",
        ),
    ];
    for (card, code, message) in &cases {
        let request = PlaceOrderRequest {
            credit_card: Some(card.clone()),
            ..order_request("unlucky", "USD")
        };
        let status = shop.client.place_order(request).await.unwrap_err();
        assert_eq!(status.code(), *code, "{status:?}");
        assert_eq!(status.message(), *message);
    }
    let records = shop.records().await;
    assert_eq!(records.len(), 3);
    for (record, (_, _, message)) in records.iter().zip(&cases) {
        assert_eq!(record.state, OrderState::Declined);
        assert_eq!(record.reason, *message);
        assert_eq!(record.transaction_id, None);
    }
    assert_eq!(shop.cart_of("unlucky").await.len(), CART.len(), "cart kept");
    shop.stop().await;
}
