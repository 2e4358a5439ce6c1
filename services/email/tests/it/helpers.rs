//! Starts the service, hands out a client, and builds sample orders.

use boutique_email::Config;
use boutique_platform::{Env, ServiceConfig, testing::TestServer};
use boutique_proto::{
    Address, CartItem, Money, OrderItem, OrderResult, SendOrderConfirmationRequest,
    email_service_client::EmailServiceClient,
};
use tonic::transport::Channel;

pub(crate) struct TestApp {
    pub(crate) server: TestServer,
    pub(crate) client: EmailServiceClient<Channel>,
}

/// Starts the service on 127.0.0.1:0 with `extra` settings on top.
pub(crate) async fn spawn_app(extra: &[(&str, &str)]) -> TestApp {
    let env = extra.iter().fold(
        Env::from_pairs([("LISTEN_ADDR", "127.0.0.1"), ("PORT", "0")]),
        |env, (name, value)| env.with(name, *value),
    );
    let server = TestServer::start(Config::from_env(&env).unwrap()).await;
    let client = EmailServiceClient::new(server.channel().await);
    TestApp { server, client }
}

pub(crate) fn money(currency_code: &str, units: i64, nanos: i32) -> Option<Money> {
    Some(Money {
        currency_code: currency_code.into(),
        units,
        nanos,
    })
}

pub(crate) fn item(product_id: &str, quantity: i32, cost: Option<Money>) -> OrderItem {
    OrderItem {
        item: Some(CartItem {
            product_id: product_id.into(),
            quantity,
        }),
        cost,
    }
}

pub(crate) fn address(street: &str) -> Address {
    Address {
        street_address: street.into(),
        city: "Mountain View".into(),
        state: "CA".into(),
        country: "United States".into(),
        zip_code: 94043,
    }
}

/// Two lines in EUR, in whole cents as checkout sends them: 3 × €19.99 =
/// €59.97 and 2 × €5.50 = €11.00, shipping €8.15. Total €79.12.
pub(crate) fn eur_order() -> OrderResult {
    OrderResult {
        order_id: "order-eur-0001".into(),
        shipping_tracking_id: "QR-21315-105107689".into(),
        shipping_cost: money("EUR", 8, 150_000_000),
        shipping_address: Some(address("1600 Amphitheatre Parkway")),
        items: vec![
            item("OLJCESPC7Z", 3, money("EUR", 19, 990_000_000)),
            item("66VCHSJNUP", 2, money("EUR", 5, 500_000_000)),
        ],
    }
}

/// Two lines in USD: 1 × $34.99 and 7 × $0.10 = $0.70, shipping $8.99.
/// Total $44.68.
pub(crate) fn usd_order() -> OrderResult {
    OrderResult {
        order_id: "order-usd-0002".into(),
        shipping_tracking_id: "ZZ-44000-220000000".into(),
        shipping_cost: money("USD", 8, 990_000_000),
        shipping_address: Some(address("1 Infinite Loop")),
        items: vec![
            item("1YMWWN1N4O", 1, money("USD", 34, 990_000_000)),
            item("9SIQT8TOJO", 7, money("USD", 0, 100_000_000)),
        ],
    }
}

pub(crate) fn request(email: &str, order: OrderResult) -> SendOrderConfirmationRequest {
    SendOrderConfirmationRequest {
        email: email.into(),
        order: Some(order),
    }
}
