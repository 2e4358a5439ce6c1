//! The per-service latency and error flags, injected by the platform's gRPC
//! layer into a real service (shipping) over real gRPC: only the targeted
//! method is hit, and an injected error shows in the RED metrics.

use std::{sync::Arc, time::Duration};

use boutique_flags::{Flags, FlagsConfig, config::OFFLINE_PATH_VAR, faults::ServiceFaults};
use boutique_platform::{
    Env, ServiceConfig, Telemetry,
    testing::{TestServer, sample},
};
use boutique_proto::{
    Address, CartItem, GetQuoteRequest, ShipOrderRequest,
    shipping_service_client::ShippingServiceClient,
};
use boutique_testkit::eventually;
use tonic::{Code, Request};

/// `message` with a 3 s deadline.
fn with_deadline<T>(message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.set_timeout(Duration::from_secs(3));
    request
}

/// A flag file holding the shipping latency and error flags, each aimed at
/// one method by targeting (null: the default variant; others: off).
fn flag_file(latency_ms: u64, slow: &str, error_rate: f64, failing: &str) -> String {
    format!(
        r#"{{"flags": {{
          "boutique.latency.shipping": {{"state": "ENABLED",
            "variants": {{"off": 0, "set": {latency_ms}}}, "defaultVariant": "set",
            "targeting": {{"if": [{{"==": [{{"var": "method"}}, "{slow}"]}}, null, "off"]}}}},
          "boutique.errors.shipping": {{"state": "ENABLED",
            "variants": {{"off": 0, "set": {error_rate}}}, "defaultVariant": "set",
            "targeting": {{"if": [{{"==": [{{"var": "method"}}, "{failing}"]}}, null, "off"]}}}}
        }}}}"#
    )
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

fn items() -> Vec<CartItem> {
    vec![CartItem {
        product_id: "OLJCESPC7Z".into(),
        quantity: 1,
    }]
}

async fn start(flags_path: &std::path::Path) -> (TestServer, Telemetry) {
    let env = Env::from_pairs([
        ("LISTEN_ADDR", "127.0.0.1"),
        ("PORT", "0"),
        (OFFLINE_PATH_VAR, flags_path.to_str().unwrap()),
        ("FLAGD_OFFLINE_POLL_MS", "100"),
    ]);
    let config = FlagsConfig::from_env(&env).unwrap();
    let detached = Telemetry::detached("shipping");
    let faults = ServiceFaults::new(Flags::new(&config, &detached), "shipping");
    let telemetry = detached.with_faults(Arc::new(faults));
    let app = boutique_shipping::Config::from_env(&env)
        .unwrap()
        .build(telemetry.clone())
        .await
        .unwrap();
    (TestServer::run(app), telemetry)
}

#[tokio::test]
async fn errors_and_latency_hit_only_the_targeted_method() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flags.json");
    std::fs::write(&path, flag_file(0, "none", 1.0, "ShipOrder")).unwrap();
    let (server, telemetry) = start(&path).await;
    let mut client = ShippingServiceClient::new(server.channel().await);

    let ship = || ShipOrderRequest {
        address: Some(address()),
        items: items(),
    };
    let quote = || GetQuoteRequest {
        address: Some(address()),
        items: items(),
    };
    let status = eventually(
        "ShipOrder fails on purpose",
        Duration::from_secs(10),
        || {
            let mut client = client.clone();
            async move { client.ship_order(ship()).await.err() }
        },
    )
    .await;
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        status.message().contains("boutique.errors.shipping"),
        "{status:?}"
    );
    for _ in 0..5 {
        assert_eq!(
            client.ship_order(ship()).await.unwrap_err().code(),
            Code::Unavailable
        );
        client
            .get_quote(quote())
            .await
            .expect("GetQuote is not targeted");
    }
    // The injected errors are counted like real ones, so the alerts see them.
    let text = telemetry.metrics().registry().render();
    let failed = sample(
        &text,
        "grpc_server_handled_total",
        &[
            ("service_name", "shipping"),
            ("grpc_service", "hipstershop.ShippingService"),
            ("grpc_method", "ShipOrder"),
            ("grpc_code", "Unavailable"),
        ],
    );
    assert!(failed.unwrap() >= 6.0, "{text}");

    // Now GetQuote is slow (the longest delay there is) and nothing fails:
    // a caller with a deadline gives up on GetQuote, ShipOrder answers.
    std::fs::write(&path, flag_file(3_600_000, "GetQuote", 0.0, "none")).unwrap();

    let status = eventually(
        "GetQuote is held past its deadline",
        Duration::from_secs(20),
        || {
            let mut client = client.clone();
            async move { client.get_quote(with_deadline(quote())).await.err() }
        },
    )
    .await;
    // tonic answers an expired `grpc-timeout` with CANCELLED or DEADLINE_EXCEEDED.
    assert!(
        matches!(status.code(), Code::DeadlineExceeded | Code::Cancelled),
        "{status:?}"
    );
    client
        .ship_order(with_deadline(ship()))
        .await
        .expect("ShipOrder is neither slow nor failing now");
    server.stop().await;
}

#[tokio::test]
async fn without_flags_for_the_service_calls_pass_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flags.json");
    std::fs::write(&path, r#"{"flags": {"adFailure": {"state": "ENABLED", "variants": {"on": true}, "defaultVariant": "on"}}}"#).unwrap();
    let (server, _telemetry) = start(&path).await;
    let mut client = ShippingServiceClient::new(server.channel().await);
    for _ in 0..20 {
        client
            .ship_order(ShipOrderRequest {
                address: Some(address()),
                items: items(),
            })
            .await
            .unwrap();
    }
    server.stop().await;
}
