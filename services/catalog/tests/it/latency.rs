//! `EXTRA_LATENCY`: waited before every RPC; a bad value stops startup.

use boutique_platform::ServiceConfig;
use std::time::{Duration, Instant};

use boutique_catalog::Config;
use boutique_proto::{Empty, GetProductRequest, SearchProductsRequest};

use crate::helpers::{spawn_app_with, test_env};

#[tokio::test]
async fn every_rpc_waits_the_extra_latency() {
    let latency = Duration::from_millis(200);
    let mut app = spawn_app_with(&[("EXTRA_LATENCY", "200ms")]).await;

    let started = Instant::now();
    app.client.list_products(Empty {}).await.unwrap();
    assert!(
        started.elapsed() >= latency,
        "list: {:?}",
        started.elapsed()
    );

    let started = Instant::now();
    app.client
        .get_product(GetProductRequest {
            id: "6E92ZMYYFZ".into(),
        })
        .await
        .unwrap();
    assert!(started.elapsed() >= latency, "get: {:?}", started.elapsed());

    // Errors are delayed too, as upstream waits before doing anything.
    let started = Instant::now();
    app.client
        .get_product(GetProductRequest { id: "NOPE".into() })
        .await
        .unwrap_err();
    assert!(
        started.elapsed() >= latency,
        "miss: {:?}",
        started.elapsed()
    );

    let started = Instant::now();
    app.client
        .search_products(SearchProductsRequest {
            query: "mug".into(),
        })
        .await
        .unwrap();
    assert!(
        started.elapsed() >= latency,
        "search: {:?}",
        started.elapsed()
    );
    app.server.stop().await;
}

#[test]
fn go_durations_are_read() {
    let config = Config::from_env(&test_env(&[("EXTRA_LATENCY", "5.5s")])).unwrap();
    assert_eq!(config.extra_latency, Duration::from_millis(5500));
    let config = Config::from_env(&test_env(&[])).unwrap();
    assert_eq!(config.extra_latency, Duration::ZERO);
}

#[test]
fn a_bad_latency_is_rejected_naming_the_variable() {
    for bad in ["fast", "5", "-1s", "2 seconds"] {
        let err = Config::from_env(&test_env(&[("EXTRA_LATENCY", bad)])).unwrap_err();
        assert_eq!(err.var, "EXTRA_LATENCY", "{bad}");
        assert_eq!(err.value, bad);
    }
}
