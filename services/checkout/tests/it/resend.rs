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
