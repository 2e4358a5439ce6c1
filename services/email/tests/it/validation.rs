//! Every kind of bad request is INVALID_ARGUMENT with a message naming the
//! problem, and never reaches delivery.

use boutique_proto::{OrderResult, SendOrderConfirmationRequest};
use tonic::Code;

use crate::helpers::{eur_order, item, money, request, spawn_app};

#[tokio::test]
async fn rejects_bad_requests_with_invalid_argument() {
    // Delivery is configured to a port nobody listens on: a request that got
    // past validation would come back UNAVAILABLE, not INVALID_ARGUMENT.
    let url = format!("smtp://127.0.0.1:{}", boutique_testkit::free_port());
    let mut app = spawn_app(&[("SMTP_URL", url.as_str())]).await;
    let with_items = |items| OrderResult {
        items,
        ..eur_order()
    };
    let cases: Vec<(SendOrderConfirmationRequest, &str)> = vec![
        (request("", eur_order()), "email is required"),
        (request("someone", eur_order()), "is not a valid address"),
        (request("someone@", eur_order()), "is not a valid address"),
        (
            request("a b@example.com", eur_order()),
            "is not a valid address",
        ),
        (
            request("Jo <jo@example.com>", eur_order()),
            "is not a valid address",
        ),
        (
            SendOrderConfirmationRequest {
                email: "ana@example.org".into(),
                order: None,
            },
            "order is required",
        ),
        (
            request(
                "ana@example.org",
                OrderResult {
                    order_id: String::new(),
                    ..eur_order()
                },
            ),
            "order.order_id is required",
        ),
        (
            request(
                "ana@example.org",
                with_items(vec![
                    item("OLJCESPC7Z", 1, money("EUR", 1, 0)),
                    item("66VCHSJNUP", 1, money("USD", 1, 0)),
                ]),
            ),
            "order.items[1].cost is in USD but the order is in EUR",
        ),
        (
            request(
                "ana@example.org",
                OrderResult {
                    shipping_cost: money("USD", 8, 990_000_000),
                    ..eur_order()
                },
            ),
            "order.items[0].cost is in EUR but the order is in USD",
        ),
        (
            request(
                "ana@example.org",
                with_items(vec![item("OLJCESPC7Z", 1, money("EUR", 1, -500_000_000))]),
            ),
            "different signs",
        ),
        (
            request(
                "ana@example.org",
                with_items(vec![item("OLJCESPC7Z", 1, money("EUR", 0, 1_000_000_000))]),
            ),
            "nanos 1000000000 is out of range",
        ),
        (
            request(
                "ana@example.org",
                OrderResult {
                    shipping_cost: money("euro", 1, 0),
                    ..eur_order()
                },
            ),
            "order.shipping_cost: currency code \"euro\"",
        ),
        (
            request(
                "ana@example.org",
                OrderResult {
                    shipping_cost: None,
                    ..eur_order()
                },
            ),
            "order.shipping_cost is required",
        ),
        (
            request(
                "ana@example.org",
                with_items(vec![item("OLJCESPC7Z", 1, None)]),
            ),
            "order.items[0].cost is required",
        ),
        (
            request(
                "ana@example.org",
                with_items(vec![item("OLJCESPC7Z", -2, money("EUR", 1, 0))]),
            ),
            "quantity is -2",
        ),
        (
            request(
                "ana@example.org",
                with_items(vec![item(
                    "OLJCESPC7Z",
                    i32::MAX,
                    money("EUR", i64::MAX, 0),
                )]),
            ),
            "out of range",
        ),
        (
            request(
                "ana@example.org",
                OrderResult {
                    shipping_address: None,
                    ..eur_order()
                },
            ),
            "order.shipping_address is required",
        ),
    ];
    for (request, message) in cases {
        let status = app
            .client
            .send_order_confirmation(request.clone())
            .await
            .unwrap_err();
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{request:?}: {status:?}"
        );
        assert!(
            status.message().contains(message),
            "{request:?}: {status:?} should mention {message:?}"
        );
    }
    app.server.stop().await;
}
