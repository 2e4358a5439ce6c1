//! `boutique.queue.publishFailure` through a flag file, with the process's
//! in-memory hub as the broker: at 1 no order event is published and every
//! one waits in the outbox; at 0 the outbox publishes them; at 0.25 some
//! publishes fail and the relay tries again, so every event arrives, once.
//!
//! One test in this binary: the services share the process's default hub.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use boutique_events::{Bus, EventKind, EventsConfig};
use boutique_flags::{Flags, FlagsConfig, names::QUEUE_PUBLISH_FAILURE};
use boutique_money::Money;
use boutique_platform::{Env, ServiceConfig, Telemetry, testing::TestServer};
use boutique_proto::boutique::orders::v1::{
    BeginOrderRequest, OrderLine, PriceOrderRequest, order_service_client::OrderServiceClient,
};
use boutique_store::{Database, Location, OrderBook, StoreConfig};
use boutique_testkit::{eventually, flags::FlagFile};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

const PATIENCE: Duration = Duration::from_secs(30);

fn flags_config(file: &FlagFile) -> FlagsConfig {
    let env = file.env();
    FlagsConfig::from_env(&Env::from_pairs(env.iter().map(|(k, v)| (*k, v.as_str())))).unwrap()
}

/// Waits until the process's flags (shared with the service's) give the
/// publish failure fraction `fraction`.
async fn until_fraction(flags: &Flags, fraction: f64) {
    eventually(
        "the publish failure fraction is in force",
        PATIENCE,
        || async { (flags.number(QUEUE_PUBLISH_FAILURE).await == fraction).then_some(()) },
    )
    .await;
}

/// Opens and prices an order for `cart` (its OrderPlaced event goes to the
/// outbox); its id.
async fn placed_order(client: &mut OrderServiceClient<Channel>, cart: &str) -> String {
    let usd = |units| Some(Money::new("USD", units, 0).unwrap().into());
    let begun = client
        .begin_order(BeginOrderRequest {
            owner: cart.to_owned(),
            cart_id: cart.to_owned(),
            currency_code: "USD".to_owned(),
            card_last_four: "0454".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let id = begun.order.unwrap().id;
    client
        .price_order(PriceOrderRequest {
            order_id: id.clone(),
            lines: vec![OrderLine {
                product_id: "OLJCESPC7Z".to_owned(),
                quantity: 1,
                unit_cost: usd(10),
            }],
            shipping_cost: usd(5),
            total: usd(15),
        })
        .await
        .unwrap();
    id
}

/// Waits until the relay has deleted every published event: it deletes a row
/// only after the broker confirmed it, so a consumer may see an event a
/// moment before its row goes.
async fn outbox_drains(book: &OrderBook) {
    eventually("the outbox drains", PATIENCE, || async {
        book.outbox(100).await.unwrap().is_empty().then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_publishes_wait_in_the_outbox_and_none_is_lost() {
    let file = FlagFile::with(&[(QUEUE_PUBLISH_FAILURE, json!(1))]);
    let flags = Flags::new(&flags_config(&file), &Telemetry::detached("orders"));
    until_fraction(&flags, 1.0).await;

    let dir = tempfile::tempdir().unwrap();
    let store = StoreConfig::at(Location::SqliteFile(dir.path().join("orders.db")));
    let env = Env::from_pairs([("LISTEN_ADDR", "127.0.0.1"), ("PORT", "0")]);
    let mut config = boutique_orders::Config::from_env(&env).unwrap();
    config.database = store.clone();
    config.flags = flags_config(&file);
    let orders = TestServer::start(config).await;
    let book = OrderBook::new(&Database::connect(&store).await.unwrap());
    let mut client = OrderServiceClient::new(orders.channel().await);

    // Every event published reaches this consumer, counted by order.
    let bus = Bus::new(EventsConfig::default());
    let seen: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let stop = CancellationToken::new();
    let consuming = {
        let (bus, seen, stop) = (bus.clone(), Arc::clone(&seen), stop.clone());
        tokio::spawn(async move {
            bus.consume(
                move |event| {
                    let seen = Arc::clone(&seen);
                    async move {
                        if event.kind == EventKind::OrderPlaced {
                            *seen.lock().unwrap().entry(event.order_id).or_default() += 1;
                        }
                        Ok(())
                    }
                },
                stop,
            )
            .await
        })
    };
    let seen_of = |ids: &[String]| -> Vec<u32> {
        let seen = seen.lock().unwrap();
        ids.iter()
            .map(|id| seen.get(id).copied().unwrap_or(0))
            .collect()
    };

    // At 1: nothing goes out, through several relay rounds.
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(placed_order(&mut client, &format!("held-{n}")).await);
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(seen_of(&ids), [0, 0, 0]);
    assert_eq!(
        book.outbox(100).await.unwrap().len(),
        3,
        "all wait in the outbox"
    );

    // At 0: the waiting events go out (after the relay's backoff, at most
    // 5 s), and a new one with them.
    file.set(&[(QUEUE_PUBLISH_FAILURE, json!(0))]);
    until_fraction(&flags, 0.0).await;
    ids.push(placed_order(&mut client, "healthy").await);
    eventually("the waiting events arrive", PATIENCE, || async {
        (seen_of(&ids) == [1; 4]).then_some(())
    })
    .await;
    outbox_drains(&book).await;

    // At 0.25: publishes fail now and then; every event arrives, once.
    file.set(&[(QUEUE_PUBLISH_FAILURE, json!(0.25))]);
    until_fraction(&flags, 0.25).await;
    for n in 0..6 {
        ids.push(placed_order(&mut client, &format!("flaky-{n}")).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eventually("every event arrives", PATIENCE, || async {
        seen_of(&ids).iter().all(|&n| n > 0).then_some(())
    })
    .await;
    assert_eq!(seen_of(&ids), [1; 10], "each event once");
    outbox_drains(&book).await;
    file.set(&[(QUEUE_PUBLISH_FAILURE, json!(0))]);

    stop.cancel();
    consuming.await.unwrap().unwrap();
    orders.stop().await;
}
