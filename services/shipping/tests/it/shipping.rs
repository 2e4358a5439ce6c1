//! Quotes, tracking ids and bad input.

use boutique_proto::{Address, CartItem, GetQuoteRequest, Money, ShipOrderRequest};
use tonic::Code;

use crate::helpers::spawn_app;

fn item(quantity: i32) -> CartItem {
    CartItem {
        product_id: "OLJCESPC7Z".into(),
        quantity,
    }
}

fn address() -> Address {
    Address {
        street_address: "1600 Amphitheatre Parkway".into(),
        city: "Mountain View".into(),
        state: "CA".into(),
        country: "United States".into(),
        zip_code: 94043,
    }
}

#[tokio::test]
async fn quotes_flat_rate_and_zero_for_nothing() {
    let mut app = spawn_app().await;
    let quote = app
        .client
        .get_quote(GetQuoteRequest {
            address: None,
            items: vec![item(2), item(2)],
        })
        .await
        .unwrap();
    assert_eq!(
        quote.into_inner().cost_usd,
        Some(Money {
            currency_code: "USD".into(),
            units: 8,
            nanos: 990_000_000
        })
    );

    let quote = app
        .client
        .get_quote(GetQuoteRequest {
            address: Some(address()),
            items: vec![],
        })
        .await
        .unwrap();
    assert_eq!(
        quote.into_inner().cost_usd,
        Some(Money {
            currency_code: "USD".into(),
            units: 0,
            nanos: 0
        })
    );
    app.server.stop().await;
}

#[tokio::test]
async fn ships_with_an_upstream_shaped_tracking_id() {
    let mut app = spawn_app().await;
    let reply = app
        .client
        .ship_order(ShipOrderRequest {
            address: Some(address()),
            items: vec![item(1)],
        })
        .await
        .unwrap();
    let id = reply.into_inner().tracking_id;
    // "1600 Amphitheatre Parkway, Mountain View, CA" is 44 bytes.
    let parts: Vec<&str> = id.split('-').collect();
    assert_eq!(parts.len(), 3, "{id}");
    assert!(
        parts[0].len() == 2 && parts[0].bytes().all(|b| b.is_ascii_uppercase()),
        "{id}"
    );
    assert!(parts[1].starts_with("44") && parts[1].len() == 5, "{id}");
    assert!(parts[2].starts_with("22") && parts[2].len() == 9, "{id}");
    app.server.stop().await;
}

#[tokio::test]
async fn rejects_bad_requests_with_invalid_argument() {
    let mut app = spawn_app().await;
    let cases = [
        (
            ShipOrderRequest {
                address: None,
                items: vec![item(1)],
            },
            "address is required",
        ),
        (
            ShipOrderRequest {
                address: Some(address()),
                items: vec![],
            },
            "nothing to ship",
        ),
        (
            ShipOrderRequest {
                address: Some(Address {
                    city: " ".into(),
                    ..address()
                }),
                items: vec![item(1)],
            },
            "address.city",
        ),
        (
            ShipOrderRequest {
                address: Some(address()),
                items: vec![item(-1)],
            },
            "must not be negative",
        ),
    ];
    for (request, message) in cases {
        let status = app.client.ship_order(request).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(status.message().contains(message), "{status:?}");
    }
    let status = app
        .client
        .get_quote(GetQuoteRequest {
            address: None,
            items: vec![item(-3)],
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    // The service is still up after bad input.
    assert!(
        app.client
            .get_quote(GetQuoteRequest {
                address: None,
                items: vec![item(1)]
            })
            .await
            .is_ok()
    );
    app.server.stop().await;
}
