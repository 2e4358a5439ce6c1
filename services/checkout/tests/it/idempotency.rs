//! Retries, duplicates and the `idempotency-key`: one order, one charge.

use std::time::Duration;

use boutique_checkout::IDEMPOTENCY_KEY;
use boutique_proto::{PlaceOrderRequest, PlaceOrderResponse};
use tonic::{Code, Request, Status};

use crate::{
    fakes::{CountingPayment, GatedCurrency, HeldPayment},
    helpers::{Shop, order_request, spawn_currency},
};

async fn place(shop: &mut Shop, request: PlaceOrderRequest) -> Result<PlaceOrderResponse, Status> {
    shop.client
        .place_order(request)
        .await
        .map(tonic::Response::into_inner)
}

fn with_key(request: PlaceOrderRequest, key: &str) -> Request<PlaceOrderRequest> {
    let mut request = Request::new(request);
    request
        .metadata_mut()
        .insert(IDEMPOTENCY_KEY, key.parse().unwrap());
    request
}

fn order_id(response: &PlaceOrderResponse) -> &str {
    &response.order.as_ref().unwrap().order_id
}

#[tokio::test]
async fn a_retry_after_success_gets_the_same_order_without_a_second_charge() {
    let payment = CountingPayment::default();
    let mut shop = Shop::start_with(vec![("payment", payment.spawn().await)]).await;
    shop.add("twice", "OLJCESPC7Z", 1).await;

    let first = place(&mut shop, order_request("twice", "USD"))
        .await
        .unwrap();
    let retry = place(&mut shop, order_request("twice", "USD"))
        .await
        .unwrap();
    assert_eq!(retry, first, "the same OrderResult");
    assert_eq!(payment.charges(), 1);
    assert_eq!(shop.records().await.len(), 1);

    // A different request from the same shopper is a different order.
    shop.add("twice", "OLJCESPC7Z", 1).await;
    let other = PlaceOrderRequest {
        email: "other@example.com".into(),
        ..order_request("twice", "USD")
    };
    let second = place(&mut shop, other).await.unwrap();
    assert_ne!(order_id(&second), order_id(&first));
    assert_eq!(payment.charges(), 2);

    // So is the same request once the shopper has filled the cart again.
    shop.add("twice", "OLJCESPC7Z", 1).await;
    let third = place(&mut shop, order_request("twice", "USD"))
        .await
        .unwrap();
    assert_ne!(order_id(&third), order_id(&first));
    assert_eq!(payment.charges(), 3);
    shop.stop().await;
}

#[tokio::test]
async fn concurrent_checkouts_of_one_cart_make_one_charge() {
    const DUPLICATES: usize = 6;
    let payment = CountingPayment::default();
    let real_currency = spawn_currency().await;
    // Every duplicate is held at the currency check until all have arrived,
    // so they really are in flight together. The currency list is not cached
    // here, so each duplicate makes its own check (a cached list is fetched
    // once for all of them).
    let gated = GatedCurrency::spawn(real_currency.url(), DUPLICATES).await;
    let fakes = vec![("payment", payment.spawn().await), ("currency", gated)];
    let mut shop = Shop::start_configured(fakes, |config| {
        config.currency_list_ttl = Duration::ZERO;
    })
    .await;
    shop.add("eager", "66VCHSJNUP", 2).await;

    // The same cart, from tabs whose forms differ (and two identical ones).
    let attempts = (0..DUPLICATES).map(|i| {
        let mut client = shop.client.clone();
        let request = PlaceOrderRequest {
            email: format!("tab-{}@example.com", i.min(DUPLICATES - 2)),
            ..order_request("eager", "USD")
        };
        async move { client.place_order(request).await }
    });
    let responses = futures::future::join_all(attempts).await;
    let mut ids = Vec::new();
    for response in responses {
        match response {
            Ok(placed) => ids.push(order_id(&placed.into_inner()).to_owned()),
            Err(status) => {
                assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
                let (reason, _) = boutique_platform::error::error_reason(&status).unwrap();
                assert_eq!(reason, boutique_proto::reasons::ORDER_IN_PROGRESS);
            }
        }
    }
    assert!(!ids.is_empty(), "one of them is placed");
    assert!(ids.iter().all(|id| id == &ids[0]), "{ids:?}");
    assert_eq!(payment.charges(), 1);
    assert_eq!(shop.records().await.len(), 1);
    shop.stop().await;
    real_currency.stop().await;
}

#[tokio::test]
async fn an_idempotency_key_names_the_order() {
    let payment = CountingPayment::default();
    let mut shop = Shop::start_with(vec![("payment", payment.spawn().await)]).await;
    shop.add("keyed", "1YMWWN1N4O", 1).await;

    let first = shop
        .client
        .place_order(with_key(order_request("keyed", "USD"), "order-7"))
        .await
        .unwrap()
        .into_inner();
    // The shopper fills the cart again: by fingerprint alone this would be a
    // new order, but the key says it is the same attempt.
    shop.add("keyed", "1YMWWN1N4O", 1).await;
    let retry = shop
        .client
        .place_order(with_key(order_request("keyed", "USD"), "order-7"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retry, first);
    assert_eq!(payment.charges(), 1);

    // The same key for a different request is refused, charging nothing.
    let different = PlaceOrderRequest {
        email: "someone-else@example.com".into(),
        ..order_request("keyed", "USD")
    };
    let status = shop
        .client
        .place_order(with_key(different, "order-7"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("idempotency-key"), "{status:?}");

    // A new key is a new order.
    let second = shop
        .client
        .place_order(with_key(order_request("keyed", "USD"), "order-8"))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(order_id(&second), order_id(&first));
    assert_eq!(payment.charges(), 2);
    shop.stop().await;
}

#[tokio::test]
async fn another_request_for_a_cart_being_ordered_is_refused_and_charges_nothing() {
    let payment = HeldPayment::default();
    let mut shop = Shop::start_with(vec![("payment", payment.spawn().await)]).await;
    shop.add("two-tabs", "OLJCESPC7Z", 1).await;

    // The first order is caught at the charge...
    let mut first_client = shop.client.clone();
    let first = tokio::spawn(async move {
        first_client
            .place_order(order_request("two-tabs", "USD"))
            .await
    });
    payment.arrived().await;
    // ...when the same cart is ordered again with another email.
    let other = PlaceOrderRequest {
        email: "b@example.com".into(),
        ..order_request("two-tabs", "USD")
    };
    // Bounded: were it placed, it would wait at the held charge forever.
    let status = tokio::time::timeout(Duration::from_secs(30), place(&mut shop, other))
        .await
        .expect("refused at once, not placed")
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    let (reason, _) = boutique_platform::error::error_reason(&status).unwrap();
    assert_eq!(reason, boutique_proto::reasons::ORDER_IN_PROGRESS);

    payment.release();
    first.await.unwrap().unwrap();
    assert_eq!(payment.charges(), 1, "the cart was charged once");
    assert_eq!(shop.records().await.len(), 1);

    // Once that order is done, the cart takes orders again.
    shop.add("two-tabs", "OLJCESPC7Z", 1).await;
    let again = PlaceOrderRequest {
        email: "b@example.com".into(),
        ..order_request("two-tabs", "USD")
    };
    place(&mut shop, again).await.unwrap();
    assert_eq!(payment.charges(), 2);
    shop.stop().await;
}
