//! Outages: before the charge nothing is charged; after it the order is on
//! record and the shopper is told.

use boutique_store::orders::OrderState;
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
    assert_eq!(records[1].state, OrderState::Failed);
    assert_eq!(records[1].transaction_id, None);
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
    assert!(message.contains(&record.id), "{message}");
    assert!(message.contains("recorded"), "{message}");
    assert!(!message.contains("4432801561520454"), "{message}");
    // Callers recognise the outcome by its reason, not by these words.
    let (reason, metadata) = boutique_platform::error::error_reason(&status).unwrap();
    assert_eq!(reason, boutique_proto::reasons::CHARGED_NOT_SHIPPED);
    assert_eq!(metadata["order_id"], record.id);
    assert_eq!(record.state, OrderState::Charged);
    uuid::Uuid::parse_str(record.transaction_id.as_deref().unwrap()).unwrap();
    assert!(record.cart_emptied, "a charged cart is emptied");
    assert!(shop.cart_of("stranded").await.is_empty());

    // Retrying does not charge again: it gets the charged order's outcome.
    let again = shop
        .client
        .place_order(order_request("stranded", "USD"))
        .await
        .unwrap_err();
    let (reason, metadata) = boutique_platform::error::error_reason(&again).unwrap();
    assert_eq!(reason, boutique_proto::reasons::CHARGED_NOT_SHIPPED);
    assert_eq!(metadata["order_id"], record.id);
    assert_eq!(payment.charges(), 1);
    assert_eq!(shop.records().await.len(), 1);
    shop.stop().await;
}

#[tokio::test]
async fn the_reconciler_hands_an_unshippable_order_to_a_person_after_bounded_tries() {
    let payment = CountingPayment::default();
    let shipping = FakeShipping {
        ship_fails: true,
        ..FakeShipping::default()
    };
    let mut shop = Shop::start_configured(
        vec![
            ("payment", payment.spawn().await),
            ("shipping", shipping.spawn().await),
        ],
        |config| {
            config.post_charge_timeout = std::time::Duration::from_millis(200);
            config.reconcile_interval = std::time::Duration::from_millis(50);
            config.reconcile_max_attempts = 2;
        },
    )
    .await;
    shop.add("stranded", "L9ECAV7KIM", 1).await;
    shop.client
        .place_order(order_request("stranded", "USD"))
        .await
        .unwrap_err();
    let order = shop
        .wait_for(|o| o.state == OrderState::NeedsAttention)
        .await;
    // Given up at the second try, or later when a round ran past its budget
    // on a busy machine and the next lease counted one more.
    assert!(order.reconcile_attempts >= 2);
    let tries = format!("not shipped after {} tries", order.reconcile_attempts);
    assert!(order.reason.contains(&tries), "{}", order.reason);
    assert_eq!(payment.charges(), 1, "never charged again");
    assert!(shop.cart_of("stranded").await.is_empty());
    assert!(
        shop.counter(
            "boutique_reconciler_actions_total",
            ("action", "needs_attention")
        ) >= 1.0
    );
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
    assert_eq!(record.state, OrderState::Shipped);
    assert!(!record.confirmation_sent, "left for the reconciler");
    assert_eq!(record.warnings.len(), 1, "{:?}", record.warnings);
    assert!(
        record.warnings[0].starts_with("confirmation email not sent"),
        "{:?}",
        record.warnings
    );
    assert!(shop.cart_of("lonely").await.is_empty());
    shop.stop().await;
}
