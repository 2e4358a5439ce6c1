//! `boutique.queue.consumerStall` through a flag file, over the in-process
//! queue with the real orders service: while on, the consumer stalls before
//! each event, one event at a time, so shipped orders stay shipped; switched
//! off, the stalled events go through at once; a short stall delays each
//! event in turn.
//!
//! One test in this binary: the services share the process's default hub.

mod support;

use std::time::{Duration, Instant};

use boutique_flags::{Flags, FlagsConfig, names::QUEUE_CONSUMER_STALL};
use boutique_platform::{Env, ServiceConfig, Telemetry, testing::TestServer};
use boutique_proto::boutique::orders::v1::{
    GetOrderRequest, OrderState, order_service_client::OrderServiceClient,
};
use boutique_store::{Location, StoreConfig};
use boutique_testkit::{eventually, flags::FlagFile};
use serde_json::json;
use support::shipped_order;
use tonic::transport::Channel;

const PATIENCE: Duration = Duration::from_secs(30);

fn flags_config(file: &FlagFile) -> FlagsConfig {
    let env = file.env();
    FlagsConfig::from_env(&Env::from_pairs(env.iter().map(|(k, v)| (*k, v.as_str())))).unwrap()
}

/// Waits until the process's flags (shared with dispatch's) give the stall
/// `millis`.
async fn until_stall(flags: &Flags, millis: f64) {
    eventually("the stall is in force", PATIENCE, || async {
        (flags.number(QUEUE_CONSUMER_STALL).await == millis).then_some(())
    })
    .await;
}

async fn state(client: &mut OrderServiceClient<Channel>, id: &str) -> i32 {
    client
        .get_order(GetOrderRequest {
            order_id: id.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .state
}

async fn until_delivered(client: &OrderServiceClient<Channel>, id: &str) {
    eventually("the order is delivered", PATIENCE, || {
        let mut client = client.clone();
        async move {
            (state(&mut client, id).await == i32::from(OrderState::Delivered)).then_some(())
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_consumer_holds_orders_until_the_flag_is_off() {
    let file = FlagFile::with(&[(QUEUE_CONSUMER_STALL, json!(60_000))]);
    let flags = Flags::new(&flags_config(&file), &Telemetry::detached("dispatch"));
    until_stall(&flags, 60_000.0).await;

    let dir = tempfile::tempdir().unwrap();
    let loopback = Env::from_pairs([("LISTEN_ADDR", "127.0.0.1"), ("PORT", "0")]);
    let mut orders = boutique_orders::Config::from_env(&loopback).unwrap();
    orders.database = StoreConfig::at(Location::SqliteFile(dir.path().join("orders.db")));
    let orders = TestServer::start(orders).await;
    let env = loopback
        .with("ORDERS_SERVICE_ADDR", orders.addr().to_string())
        .with("DISPATCH_DELAY", "0s")
        .with("DELIVERY_DELAY", "0s");
    let mut dispatch = boutique_dispatch::Config::from_env(&env).unwrap();
    dispatch.flags = flags_config(&file);
    let dispatch = TestServer::start(dispatch).await;
    let mut client = OrderServiceClient::new(orders.channel().await);

    // Stalled (for the longest stall, 30 s): the order stays shipped.
    let first = shipped_order(&mut client, "stalled").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        state(&mut client, &first).await,
        i32::from(OrderState::Shipped)
    );
    let text = dispatch.telemetry().metrics().registry().render();
    let handled = boutique_platform::testing::sample(
        &text,
        "boutique_dispatch_events_total",
        &[
            ("service_name", "dispatch"),
            ("type", "OrderShipped"),
            ("outcome", "handled"),
        ],
    );
    assert_eq!(handled, Some(0.0), "{text}");

    // Off: the stalled events go through at once.
    file.set(&[(QUEUE_CONSUMER_STALL, json!(0))]);
    let off = Instant::now();
    until_delivered(&client, &first).await;
    assert!(
        // Well under the 30 s the stall would last, with room for a busy machine.
        off.elapsed() < Duration::from_secs(25),
        "{:?}",
        off.elapsed()
    );

    // 300 ms: the events of an order (placed, charged, shipped, dispatched)
    // wait their turns, 300 ms each; in parallel they would take 600 ms.
    file.set(&[(QUEUE_CONSUMER_STALL, json!(300))]);
    until_stall(&flags, 300.0).await;
    let started = Instant::now();
    let second = shipped_order(&mut client, "slow").await;
    until_delivered(&client, &second).await;
    assert!(
        started.elapsed() >= Duration::from_millis(1100),
        "{:?}",
        started.elapsed()
    );

    file.set(&[(QUEUE_CONSUMER_STALL, json!(0))]);
    dispatch.stop().await;
    orders.stop().await;
}
