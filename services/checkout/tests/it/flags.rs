//! `paymentUnreachable` through a flag file: while on, a charge fails as in
//! a payment outage (`UNAVAILABLE`, nothing reaches payment, the order
//! failed, the cart kept); switched off, orders go through again.

use std::time::Duration;

use boutique_flags::{Flags, FlagsConfig, names::PAYMENT_UNREACHABLE};
use boutique_platform::{Env, Telemetry};
use boutique_store::orders::OrderState;
use boutique_testkit::{eventually, flags::FlagFile};
use serde_json::json;
use tonic::Code;

use crate::{
    fakes::CountingPayment,
    helpers::{Shop, order_request},
};

const PATIENCE: Duration = Duration::from_secs(20);

fn flags_config(file: &FlagFile) -> FlagsConfig {
    let env = file.env();
    FlagsConfig::from_env(&Env::from_pairs(env.iter().map(|(k, v)| (*k, v.as_str())))).unwrap()
}

/// Waits until the process's flags (shared with checkout's: one engine per
/// source) give `paymentUnreachable` this value.
async fn until_unreachable(flags: &Flags, on: bool) {
    eventually(
        "paymentUnreachable has the value written",
        PATIENCE,
        || async { (flags.bool(PAYMENT_UNREACHABLE).await == on).then_some(()) },
    )
    .await;
}

#[tokio::test]
async fn payment_unreachable_fails_the_charge_as_an_outage_until_switched_off() {
    let file = FlagFile::with(&[(PAYMENT_UNREACHABLE, json!(true))]);
    let config = flags_config(&file);
    let flags = Flags::new(&config, &Telemetry::detached("checkout"));
    let payment = CountingPayment::default();
    let mut shop = Shop::start_configured(vec![("payment", payment.spawn().await)], |c| {
        c.flags = config.clone();
    })
    .await;
    until_unreachable(&flags, true).await;
    shop.add("unlucky", "OLJCESPC7Z", 1).await;

    let status = shop
        .client
        .place_order(order_request("unlucky", "USD"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(status.message().starts_with("payment"), "{status:?}");
    assert_eq!(payment.charges(), 0, "nothing reached payment");
    let records = shop.records().await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].state, OrderState::Failed);
    assert_eq!(records[0].transaction_id, None);
    assert_eq!(shop.cart_of("unlucky").await.len(), 1, "cart kept");
    let failures = "boutique_checkout_failures_total";
    assert_eq!(shop.counter(failures, ("stage", "payment")), 1.0);

    // Off: the next orders are charged (once payment's breaker, opened by
    // the refused connections, lets a call through again).
    file.set(&[(PAYMENT_UNREACHABLE, json!(false))]);
    until_unreachable(&flags, false).await;
    let placed = eventually("an order goes through again", PATIENCE, || {
        let mut client = shop.client.clone();
        async move {
            client
                .place_order(order_request("unlucky", "USD"))
                .await
                .ok()
        }
    })
    .await;
    assert!(!placed.into_inner().order.unwrap().order_id.is_empty());
    assert_eq!(payment.charges(), 1);
    assert!(shop.cart_of("unlucky").await.is_empty(), "cart emptied");
    shop.stop().await;
}
