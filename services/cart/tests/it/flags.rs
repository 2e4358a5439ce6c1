//! The cart's failure flags over real gRPC: `cartFailure` fails `EmptyCart`
//! only; `failedReadinessProbe` takes readiness (`""` and the cart service's
//! name) to NOT_SERVING while liveness (`liveness`) stays SERVING.

use std::time::Duration;

use boutique_proto::{EmptyCartRequest, GetCartRequest};
use boutique_testkit::{eventually, flags::FlagFile};
use serde_json::json;
use tonic::Code;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use crate::helpers::{Backend, TestApp};

const PATIENCE: Duration = Duration::from_secs(10);

async fn start(flags: &FlagFile) -> TestApp {
    let settings = flags.env();
    let vars: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    TestApp::start(Backend::Memory, &vars)
        .await
        .expect("the memory store always starts")
}

#[tokio::test]
async fn cart_failure_fails_empty_cart_and_nothing_else() {
    let flags = FlagFile::with(&[("cartFailure", json!(1))]);
    let app = start(&flags).await;
    let empty = || EmptyCartRequest {
        user_id: "u1".into(),
    };
    let status = eventually("EmptyCart fails on purpose", PATIENCE, || {
        let mut client = app.client.clone();
        async move { client.empty_cart(empty()).await.err() }
    })
    .await;
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    app.add("u1", "OLJCESPC7Z", 1).await.unwrap();
    assert_eq!(app.items("u1").await, [("OLJCESPC7Z".to_owned(), 1)]);

    flags.set(&[("cartFailure", json!(0))]);
    eventually("EmptyCart works again", PATIENCE, || {
        let mut client = app.client.clone();
        async move { client.empty_cart(empty()).await.ok() }
    })
    .await;
    let cart = app
        .client
        .clone()
        .get_cart(GetCartRequest {
            user_id: "u1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(cart.items.is_empty());
    app.server.stop().await;
}

#[tokio::test]
async fn failed_readiness_probe_fails_readiness_not_liveness() {
    let flags = FlagFile::with(&[("failedReadinessProbe", json!(true))]);
    let app = start(&flags).await;
    let health = HealthClient::new(app.server.channel().await);
    let status_of = |service: &'static str| {
        let mut health = health.clone();
        async move {
            health
                .check(HealthCheckRequest {
                    service: service.into(),
                })
                .await
                .unwrap()
                .into_inner()
                .status()
        }
    };
    let readiness = "hipstershop.CartService";
    eventually("readiness fails on purpose", PATIENCE, || async {
        (status_of(readiness).await == ServingStatus::NotServing).then_some(())
    })
    .await;
    assert_eq!(status_of("").await, ServingStatus::NotServing);
    assert_eq!(
        status_of("liveness").await,
        ServingStatus::Serving,
        "liveness stays up"
    );
    app.add("u2", "OLJCESPC7Z", 1).await.unwrap();

    flags.set(&[("failedReadinessProbe", json!(false))]);
    eventually("readiness recovers", PATIENCE, || async {
        (status_of(readiness).await == ServingStatus::Serving).then_some(())
    })
    .await;
    assert_eq!(status_of("").await, ServingStatus::Serving);
    assert_eq!(status_of("liveness").await, ServingStatus::Serving);
    app.server.stop().await;
}
