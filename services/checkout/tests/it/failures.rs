//! Outages: before the charge nothing is charged; after it the order is on
//! record and the shopper is told.

use boutique_checkout::OrderState;
use tonic::Code;

use crate::{
    fakes::{CountingPayment, FakeShipping},
    helpers::{Shop, order_request},
};

#[tokio::test]
async fn a_payment_outage_is_unavailable_and_charges_nothing() {
    let mut shop = Shop::start().await;
    shop.add("patient", "OLJCESPC7Z", 1).await;
    // One order goes through first, so checkout has a live connection to
    // payment when payment goes away.
    shop.client
        .place_order(order_request("patient", "USD"))
        .await
        .unwrap();
    shop.add("patient", "1YMWWN1N4O", 2).await;
    shop.stop_backend("payment").await;

    let status = shop
        .client
        .place_order(order_request("patient", "USD"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(status.message().starts_with("payment"), "{status:?}");

    let records = shop.records().await;
    assert_eq!(records.len(), 2);
    assert!(
        matches!(records[1].state, OrderState::PaymentFailed { .. }),
        "{:?}",
        records[1].state
    );
    assert!(!records[1].history.iter().any(|c| c.state.is_charged()));
    assert_eq!(shop.cart_of("patient").await.len(), 1, "cart kept");

    // One order placed, one failed at payment, nothing else.
    let failures = "boutique_checkout_failures_total";
    assert_eq!(shop.counter(failures, ("stage", "payment")), 1.0);
    assert_eq!(shop.counter(failures, ("stage", "cart")), 0.0);
    assert_eq!(
        shop.counter("boutique_orders_placed_total", ("currency", "USD")),
        1.0
    );

    // An empty cart is the shopper's mistake: stage validation.
    let status = shop
        .client
        .place_order(order_request("nobody", "USD"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(shop.counter(failures, ("stage", "validation")), 1.0);
    assert_eq!(shop.counter(failures, ("stage", "payment")), 1.0);
    shop.stop().await;
}

#[tokio::test]
async fn a_shipping_outage_after_the_charge_is_recorded_and_explained() {
    let payment = CountingPayment::default();
    let shipping = FakeShipping {
        ship_fails: true,
        ..FakeShipping::default()
    };
    let mut shop = Shop::start_with(vec![
        ("payment", payment.spawn().await),
        ("shipping", shipping.spawn().await),
    ])
    .await;
    shop.add("stranded", "L9ECAV7KIM", 1).await;

    let status = shop
        .client
        .place_order(order_request("stranded", "USD"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(payment.charges(), 1);

    let records = shop.records().await;
    assert_eq!(records.len(), 1);
    let record = &records[0];
    let message = status.message();
    assert!(message.contains("card was charged"), "{message}");
    assert!(message.contains(&record.order_id), "{message}");
    assert!(message.contains("recorded"), "{message}");
    assert!(!message.contains("4432801561520454"), "{message}");
    // Callers recognise the outcome by its reason, not by these words.
    let (reason, metadata) = boutique_platform::error::error_reason(&status).unwrap();
    assert_eq!(reason, boutique_proto::reasons::CHARGED_NOT_SHIPPED);
    assert_eq!(metadata["order_id"], record.order_id);
    match &record.state {
        OrderState::ShippingFailedAfterCharge {
            transaction_id,
            reason,
        } => {
            uuid::Uuid::parse_str(transaction_id).unwrap();
            assert!(reason.contains("carrier is not answering"), "{reason}");
        }
        other => panic!("expected ShippingFailedAfterCharge, got {other:?}"),
    }
    assert!(record.state.needs_follow_up());
    assert_eq!(shop.cart_of("stranded").await.len(), 1, "cart kept");

    // Retrying does not charge again: it gets the same answer.
    let again = shop
        .client
        .place_order(order_request("stranded", "USD"))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::Unavailable);
    assert_eq!(again.message(), message);
    assert_eq!(payment.charges(), 1);
    assert_eq!(shop.records().await.len(), 1);
    shop.stop().await;
}

#[tokio::test]
async fn an_email_failure_after_shipment_does_not_fail_the_order() {
    let mut shop = Shop::start().await;
    shop.add("lonely", "2ZYFJ3GM2N", 1).await;
    shop.stop_backend("email").await;

    let order = shop
        .client
        .place_order(order_request("lonely", "USD"))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    let record = shop.record(&order.order_id).await;
    assert!(
        matches!(record.state, OrderState::Completed { .. }),
        "{:?}",
        record.state
    );
    assert_eq!(record.warnings.len(), 1, "{:?}", record.warnings);
    assert!(
        record.warnings[0].starts_with("confirmation email not sent"),
        "{:?}",
        record.warnings
    );
    assert!(shop.cart_of("lonely").await.is_empty());
    shop.stop().await;
}
