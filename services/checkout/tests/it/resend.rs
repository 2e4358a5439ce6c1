//! A charge whose answer is lost is resent with the same idempotency key (the
//! order id), so the card is charged once and the order completes; with
//! resends turned off (for a payment service that ignores the key) the order
//! is recorded as payment-uncertain instead of being charged again.

use boutique_platform::{Env, ServiceConfig, testing::TestServer};
use boutique_store::orders::OrderState;
use tonic::Code;

use crate::{
    fakes::ForgetfulPayment,
    helpers::{Shop, order_request},
};

/// A real payment service of the test's own, behind the forgetful one.
async fn real_payment() -> TestServer {
    let env = Env::from_pairs([("LISTEN_ADDR", "127.0.0.1"), ("PORT", "0")]);
    TestServer::start(boutique_payment::Config::from_env(&env).unwrap()).await
}

#[tokio::test]
async fn a_lost_answer_is_resent_with_the_same_key_and_charged_once() {
    for lost_as in [Code::Unknown, Code::Internal, Code::Unavailable] {
        let real = real_payment().await;
        let payment = ForgetfulPayment::new(real.channel().await, 1, lost_as);
        let mut shop = Shop::start_with(vec![("payment", payment.spawn().await)]).await;
        shop.add("unlucky", "OLJCESPC7Z", 1).await;

        let result = shop
            .client
            .place_order(order_request("unlucky", "USD"))
            .await
            .unwrap()
            .into_inner();
        let order = result.order.unwrap();

        let seen = payment.seen();
        assert_eq!(seen.len(), 2, "{lost_as:?}: sent once, resent once");
        let key = Some(order.order_id.clone());
        assert!(seen.iter().all(|(k, _)| *k == key), "{seen:?}");
        assert_eq!(seen[0].1, seen[1].1, "one transaction: charged once");

        let records = shop.records().await;
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].state, OrderState::Shipped, "{lost_as:?}");
        assert_eq!(records[0].transaction_id.as_ref(), Some(&seen[0].1));
        shop.stop().await;
        real.stop().await;
    }
}

#[tokio::test]
async fn without_resends_an_open_outcome_is_recorded_for_follow_up() {
    let real = real_payment().await;
    let payment = ForgetfulPayment::new(real.channel().await, 1, Code::Unknown);
    let mut shop = Shop::start_configured(vec![("payment", payment.spawn().await)], |config| {
        config.charge_attempts = 1;
    })
    .await;
    shop.add("unlucky", "OLJCESPC7Z", 1).await;

    let status = shop
        .client
        .place_order(order_request("unlucky", "USD"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(status.message().contains("do not pay"), "{status:?}");
    let (reason, _) = boutique_platform::error::error_reason(&status).unwrap();
    assert_eq!(reason, boutique_proto::reasons::PAYMENT_UNCERTAIN);
    assert_eq!(payment.seen().len(), 1, "not resent");
    let records = shop.records().await;
    assert_eq!(records[0].state, OrderState::PaymentUncertain);
    shop.stop().await;
    real.stop().await;
}

#[tokio::test]
async fn the_reconciler_settles_an_open_outcome_and_ships_the_order() {
    let real = real_payment().await;
    let payment = ForgetfulPayment::new(real.channel().await, 1, Code::Unknown);
    let fake = payment.spawn_with_ledger(real.channel().await).await;
    let mut shop = Shop::start_configured(vec![("payment", fake)], |config| {
        config.charge_attempts = 1;
        config.post_charge_timeout = std::time::Duration::from_millis(200);
        config.reconcile_interval = std::time::Duration::from_millis(50);
    })
    .await;
    shop.add("unlucky", "OLJCESPC7Z", 1).await;
    let status = shop
        .client
        .place_order(order_request("unlucky", "USD"))
        .await
        .unwrap_err();
    let (reason, _) = boutique_platform::error::error_reason(&status).unwrap();
    assert_eq!(reason, boutique_proto::reasons::PAYMENT_UNCERTAIN);

    // The charge went through; the ledger says so, and the order goes on.
    let order = shop
        .wait_for(|o| o.state == OrderState::Shipped && o.confirmation_sent)
        .await;
    let seen = payment.seen();
    assert_eq!(seen.len(), 1, "charged once, never resent");
    assert_eq!(order.transaction_id.as_ref(), Some(&seen[0].1));
    assert!(order.cart_emptied);
    assert!(shop.cart_of("unlucky").await.is_empty());
    assert_eq!(
        shop.counter("boutique_reconciler_actions_total", ("action", "settled")),
        1.0
    );
    shop.stop().await;
    real.stop().await;
}

#[tokio::test]
async fn with_a_payment_service_that_cannot_settle_an_open_outcome_goes_to_a_person() {
    let real = real_payment().await;
    // Upstream's payment service: no ledger to ask.
    let payment = ForgetfulPayment::new(real.channel().await, 1, Code::Unknown);
    let mut shop = Shop::start_configured(vec![("payment", payment.spawn().await)], |config| {
        config.charge_attempts = 1;
        config.post_charge_timeout = std::time::Duration::from_millis(200);
        config.reconcile_interval = std::time::Duration::from_millis(50);
        config.reconcile_max_attempts = 2;
    })
    .await;
    shop.add("unlucky", "OLJCESPC7Z", 1).await;
    shop.client
        .place_order(order_request("unlucky", "USD"))
        .await
        .unwrap_err();
    let order = shop
        .wait_for(|o| o.state == OrderState::NeedsAttention)
        .await;
    assert!(
        order.reason.contains("could not be settled"),
        "{}",
        order.reason
    );
    assert_eq!(payment.seen().len(), 1, "never charged again");
    assert!(
        shop.cart_of("unlucky").await.is_empty(),
        "the cart cannot be charged again"
    );
    shop.stop().await;
    real.stop().await;
}
