//! What only a real broker can show: outages, restarts, durability, and the
//! topology as RabbitMQ sees it.

use std::time::{Duration, Instant};

use boutique_events::{Bus, EventKind, EventsConfig, EventsError, OrderEvent, topology};
use boutique_testkit::rabbitmq::RabbitServer;
use tokio::sync::{mpsc, watch};

use crate::helpers::{PATIENCE, chain, event, eventually, receive, spawn_consumer, test_config};

/// How long a publish to a stopped broker may take to fail.
const FAIL_FAST: Duration = Duration::from_secs(5);

fn config_for(url: &str) -> EventsConfig {
    EventsConfig {
        amqp_url: EventsConfig::amqp(url).unwrap().amqp_url,
        ..test_config()
    }
}

/// The messages `rabbitmqctl list_queues` shows in `queue` of `vhost`.
fn messages_in(server: &RabbitServer, vhost: &str, queue: &str) -> Option<u64> {
    server
        .list_queues(vhost)
        .into_iter()
        .find_map(|(name, messages)| (name == queue).then_some(messages))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    missing_rabbitmq_server,
    ignore = "needs rabbitmq-server (Debian rabbitmq-server)"
)]
async fn survives_a_broker_restart() {
    // A broker of its own: the test stops it.
    let Some(mut server) = RabbitServer::start() else {
        return;
    };
    let bus = Bus::new(EventsConfig {
        prefetch: 4,
        ..config_for(&server.amqp_url())
    });

    // A consumer that holds events of the order "held" unacknowledged until
    // the gate opens: when the broker stops, four are delivered and held,
    // two were never delivered.
    let (gate, gate_rx) = watch::channel(false);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let consumer = spawn_consumer(&bus, move |event: OrderEvent| {
        let _ = tx.send(event.clone());
        let mut gate = gate_rx.clone();
        async move {
            if event.order_id == "held" {
                let _ = gate.wait_for(|open| *open).await;
            }
            Ok(())
        }
    });
    let warmup = event(EventKind::OrderPlaced, "warmup");
    bus.publish(std::slice::from_ref(&warmup)).await.unwrap();
    assert_eq!(receive(&mut rx, 1).await, [warmup]);
    let held: Vec<OrderEvent> = (0..6)
        .map(|_| event(EventKind::OrderCharged, "held"))
        .collect();
    bus.publish(&held).await.unwrap();
    assert_eq!(receive(&mut rx, 4).await, held[..4]);

    // The topology as RabbitMQ lists it (its counts lag a little): the held
    // events are in the queue.
    eventually("rabbitmqctl lists the held events", || async {
        (messages_in(&server, "/", topology::QUEUE) == Some(6)).then_some(())
    })
    .await;
    assert_eq!(messages_in(&server, "/", topology::DEAD_QUEUE), Some(0));

    server.stop();
    let started = Instant::now();
    let error = bus
        .publish(&[event(EventKind::OrderPlaced, "lost")])
        .await
        .expect_err("publishing to a stopped broker fails");
    assert!(
        started.elapsed() < FAIL_FAST,
        "took {:?} to fail: {}",
        started.elapsed(),
        chain(&error)
    );
    assert!(
        !chain(&error).contains(":guest@"),
        "the password shows: {}",
        chain(&error)
    );
    // A second try fails as fast (it tries to reconnect, not a dead socket).
    let started = Instant::now();
    assert!(bus.depths().await.is_err());
    assert!(started.elapsed() < FAIL_FAST);

    gate.send_replace(true);
    server.start_again();

    // The same bus publishes again...
    let after = event(EventKind::OrderDelivered, "after");
    bus.publish(std::slice::from_ref(&after)).await.unwrap();
    // ...and the consumer, back on its own, gets the held events (persistent,
    // in a quorum queue: they survived the restart, delivered or not) and the
    // new one.
    let mut received = receive(&mut rx, 7).await;
    received.sort_by_key(|e| e.order_id == "after");
    assert_eq!(received[6], after);
    let mut expected = held.clone();
    expected.sort_by(|a, b| a.id.cmp(&b.id));
    let mut got = received[..6].to_vec();
    got.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(got, expected, "every held event, once each");
    consumer.stop().await.unwrap();

    eventually("the queue drains", || async {
        (messages_in(&server, "/", topology::QUEUE) == Some(0)).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_broker_that_is_not_there_fails_fast_and_stops_cleanly() {
    // Nothing listens on a port we just freed.
    let port = boutique_testkit::free_port();
    let url = format!("amqp://shop:hunter2@127.0.0.1:{port}/%2f");
    let bus = Bus::new(config_for(&url));
    assert_eq!(
        bus.to_string(),
        format!("RabbitMQ at amqp://shop:***@127.0.0.1:{port}/%2f")
    );
    let started = Instant::now();
    let error = bus
        .publish(&[event(EventKind::OrderPlaced, "o-1")])
        .await
        .unwrap_err();
    assert!(started.elapsed() < FAIL_FAST, "{:?}", started.elapsed());
    assert!(matches!(error, EventsError::Connect { .. }), "{error:?}");
    let shown = format!("{} {error:?} {bus:?}", chain(&error));
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(bus.depths().await.is_err());
    assert!(bus.drain_dead_letters(1).await.is_err());

    // The consumer keeps trying, and stops when told.
    let (handler, _rx) = crate::helpers::recorder();
    let consumer = spawn_consumer(&bus, handler);
    tokio::task::yield_now().await;
    let started = Instant::now();
    consumer.stop().await.unwrap();
    assert!(started.elapsed() < PATIENCE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    missing_rabbitmq_server,
    ignore = "needs rabbitmq-server (Debian rabbitmq-server)"
)]
async fn a_mismatched_topology_stops_the_consumer() {
    let Some(server) = RabbitServer::shared() else {
        return;
    };
    let url = server.add_vhost();
    let bus = Bus::new(config_for(&url));
    // Declares the queue with the test delivery limit.
    bus.publish(&[event(EventKind::OrderPlaced, "o-1")])
        .await
        .unwrap();
    let other = Bus::new(EventsConfig {
        delivery_limit: 9,
        ..config_for(&url)
    });
    let (handler, _rx) = crate::helpers::recorder();
    let result = tokio::time::timeout(
        PATIENCE,
        other.consume(handler, tokio_util::sync::CancellationToken::new()),
    )
    .await
    .expect("a topology mismatch ends consume");
    assert!(
        matches!(result, Err(EventsError::Topology(_))),
        "{result:?}"
    );
}
