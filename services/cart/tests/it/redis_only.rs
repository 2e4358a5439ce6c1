//! Redis-specific behaviour: idle expiry on the keys, and outages.

use std::time::{Duration, Instant};

use boutique_cart::{
    Config,
    store::redis::{cart_key, order_key},
};
use boutique_platform::{Env, ServiceConfig};
use boutique_testkit::redis::RedisServer;
use tonic::Code;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use crate::helpers::{Backend, TestApp, lines};

/// Starts the service on a fresh Redis given as a `redis://` URL, with `CART_TTL`
/// set to `ttl` when given.
async fn start_with_url(ttl: Option<&str>) -> Option<TestApp> {
    let redis = RedisServer::start()?;
    let mut env = Env::from_pairs([
        ("LISTEN_ADDR", "127.0.0.1"),
        ("PORT", "0"),
        ("REDIS_ADDR", redis.url().as_str()),
    ]);
    if let Some(ttl) = ttl {
        env = env.with("CART_TTL", ttl);
    }
    Some(TestApp::spawn(Config::from_env(&env).unwrap(), Some(redis)).await)
}

/// PTTL of `key` in ms, read with a connection of our own (-1: no expiry, -2: no key).
async fn pttl(redis: &RedisServer, key: &str) -> i64 {
    let client = redis::Client::open(redis.url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("PTTL")
        .arg(key)
        .query_async(&mut connection)
        .await
        .unwrap()
}

fn assert_close_to(actual_ms: i64, expected: Duration) {
    let expected_ms = i64::try_from(expected.as_millis()).unwrap();
    assert!(
        actual_ms <= expected_ms && actual_ms > expected_ms - 60_000,
        "PTTL {actual_ms} ms is not within a minute below {expected_ms} ms"
    );
}

#[tokio::test]
#[cfg_attr(
    missing_redis_server,
    ignore = "needs redis-server (Debian redis-server)"
)]
async fn carts_expire_after_48h_idle_by_default() {
    let Some(app) = TestApp::start(Backend::Redis, &[]).await else {
        return;
    };
    app.add("u", "OLJCESPC7Z", 1).await.unwrap();
    let redis = app.redis.as_ref().unwrap();
    assert_close_to(
        pttl(redis, &cart_key("u")).await,
        Duration::from_secs(172_800),
    );
    assert_close_to(
        pttl(redis, &order_key("u")).await,
        Duration::from_secs(172_800),
    );
    app.stop().await;
}

#[tokio::test]
#[cfg_attr(
    missing_redis_server,
    ignore = "needs redis-server (Debian redis-server)"
)]
async fn cart_ttl_sets_the_expiry_and_adds_restart_it() {
    let Some(app) = start_with_url(Some("90m")).await else {
        return;
    };
    let redis = app.redis.as_ref().unwrap();
    app.add("u", "OLJCESPC7Z", 1).await.unwrap();
    assert_close_to(
        pttl(redis, &cart_key("u")).await,
        Duration::from_secs(5_400),
    );

    // Shorten the expiry by hand; the next add must set it back to CART_TTL.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("PEXPIRE")
        .arg(cart_key("u"))
        .arg(5_000)
        .query_async::<()>(&mut connection)
        .await
        .unwrap();
    app.add("u", "66VCHSJNUP", 1).await.unwrap();
    assert_close_to(
        pttl(redis, &cart_key("u")).await,
        Duration::from_secs(5_400),
    );
    assert_close_to(
        pttl(redis, &order_key("u")).await,
        Duration::from_secs(5_400),
    );
    app.stop().await;
}

#[tokio::test]
#[cfg_attr(
    missing_redis_server,
    ignore = "needs redis-server (Debian redis-server)"
)]
async fn cart_ttl_zero_keeps_carts_forever() {
    let Some(app) = start_with_url(Some("0")).await else {
        return;
    };
    app.add("u", "OLJCESPC7Z", 1).await.unwrap();
    let redis = app.redis.as_ref().unwrap();
    assert_eq!(pttl(redis, &cart_key("u")).await, -1);
    assert_eq!(pttl(redis, &order_key("u")).await, -1);
    app.stop().await;
}

#[tokio::test]
#[cfg_attr(
    missing_redis_server,
    ignore = "needs redis-server (Debian redis-server)"
)]
async fn a_rejected_add_does_not_touch_the_keys() {
    let Some(app) = start_with_url(Some("0")).await else {
        return;
    };
    let status = app.add("u", "OLJCESPC7Z", 10_001).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    app.add("u", "OLJCESPC7Z", 10_000).await.unwrap();
    assert!(app.add("u", "OLJCESPC7Z", 1).await.is_err());
    let redis = app.redis.as_ref().unwrap();
    let client = redis::Client::open(redis.url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let order: Vec<String> = redis::cmd("LRANGE")
        .arg(order_key("u"))
        .arg(0)
        .arg(-1)
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(order, ["OLJCESPC7Z"]);
    let quantity: i64 = redis::cmd("HGET")
        .arg(cart_key("u"))
        .arg("OLJCESPC7Z")
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(quantity, 10_000);
    app.stop().await;
}

async fn health(
    client: &mut HealthClient<tonic::transport::Channel>,
    service: &str,
) -> ServingStatus {
    let reply = client
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .unwrap()
        .into_inner();
    ServingStatus::try_from(reply.status).unwrap()
}

/// Polls the health service until `service` reports `expected`.
async fn wait_for_health(
    client: &mut HealthClient<tonic::transport::Channel>,
    service: &str,
    expected: ServingStatus,
) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = health(client, service).await;
        if status == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "health of {service:?} is still {status:?}, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    missing_redis_server,
    ignore = "needs redis-server (Debian redis-server)"
)]
async fn redis_outage_is_unavailable_and_not_serving() {
    let Some(mut app) = TestApp::start(Backend::Redis, &[]).await else {
        return;
    };
    let mut health_client = HealthClient::new(app.server.channel().await);
    wait_for_health(&mut health_client, "", ServingStatus::Serving).await;
    app.add("u", "OLJCESPC7Z", 1).await.unwrap();
    assert_eq!(app.items("u").await, lines(&[("OLJCESPC7Z", 1)]));

    app.redis.as_mut().unwrap().stop();

    let mut client = app.client.clone();
    let statuses = [
        app.add("u", "OLJCESPC7Z", 1).await.unwrap_err(),
        client
            .get_cart(boutique_proto::GetCartRequest {
                user_id: "u".into(),
            })
            .await
            .unwrap_err(),
        app.empty("u").await.unwrap_err(),
    ];
    for status in statuses {
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        assert!(
            status.message().starts_with("cart storage unavailable: "),
            "{status:?}"
        );
    }
    wait_for_health(&mut health_client, "", ServingStatus::NotServing).await;
    wait_for_health(
        &mut health_client,
        "hipstershop.CartService",
        ServingStatus::NotServing,
    )
    .await;
    assert_eq!(
        health(&mut health_client, "liveness").await,
        ServingStatus::Serving,
        "a store outage is not fixed by a restart"
    );
    // Still alive and answering: validation does not need the store.
    let status = app.add("", "OLJCESPC7Z", 1).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    app.stop().await;
}
