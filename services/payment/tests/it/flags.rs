//! `paymentFailure` over real gRPC: at 1 every charge is declined with
//! FAILED_PRECONDITION (nothing charged); at 0 charges go through again.

use std::time::Duration;

use boutique_testkit::{eventually, flags::FlagFile};
use serde_json::json;
use tonic::Code;

use crate::helpers::{charge, spawn_app_with};

#[tokio::test]
async fn payment_failure_declines_every_charge_at_one() {
    let flags = FlagFile::with(&[("paymentFailure", json!(1))]);
    let settings = flags.env();
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app_with(&settings).await;
    let status = eventually("a charge fails on purpose", Duration::from_secs(10), || {
        let mut client = app.client.clone();
        async move { client.charge(charge("4111111111111111")).await.err() }
    })
    .await;
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(status.message().contains("paymentFailure"), "{status:?}");
    for _ in 0..20 {
        let status = app
            .client
            .clone()
            .charge(charge("4111111111111111"))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::FailedPrecondition);
    }

    flags.set(&[("paymentFailure", json!(0))]);
    let reply = eventually("charges go through again", Duration::from_secs(10), || {
        let mut client = app.client.clone();
        async move { client.charge(charge("4111111111111111")).await.ok() }
    })
    .await;
    assert!(!reply.into_inner().transaction_id.is_empty());
    app.server.stop().await;
}
