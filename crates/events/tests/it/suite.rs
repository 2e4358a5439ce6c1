//! The semantics both backends share, each test run on both.

use std::sync::{
    Arc,
    atomic::{AtomicU32, Ordering},
};

use boutique_events::{EventKind, Handling, OrderEvent, topology};
use tokio::sync::mpsc;

use crate::helpers::{
    DELIVERY_LIMIT, Fixture, assert_nothing_left, dead_letters_reach, event, eventually,
    on_both_backends, receive, recorder, spawn_consumer,
};

on_both_backends!(
    every_event_arrives_in_publish_order,
    a_retried_event_is_redelivered_then_acknowledged_once,
    poison_goes_to_the_dead_letter_queue,
    endless_retries_are_dead_lettered_after_the_delivery_limit,
    an_unacknowledged_event_goes_to_the_next_consumer,
);

async fn every_event_arrives_in_publish_order(fixture: Fixture) {
    let bus = fixture.bus();
    // Published before anyone consumes: the topology keeps them.
    let batch: Vec<OrderEvent> = (0..30)
        .map(|i| event(EventKind::ALL[i % EventKind::ALL.len()], &format!("o-{i}")))
        .collect();
    bus.publish(&batch).await.unwrap();
    bus.publish(&[]).await.unwrap();
    // Polled: RabbitMQ answers a quorum queue's depth as 0 when the queue's
    // leader is slow to reply (a busy broker).
    eventually("30 events ready", || async {
        (bus.depths().await.unwrap().ready == 30).then_some(())
    })
    .await;

    let (handler, mut rx) = recorder();
    let consumer = spawn_consumer(&fixture.bus(), handler);
    let received = receive(&mut rx, batch.len()).await;
    assert_eq!(received, batch, "every event, as published, in order");

    // A second batch while the consumer runs.
    let more: Vec<OrderEvent> = (30..40)
        .map(|i| event(EventKind::OrderShipped, &format!("o-{i}")))
        .collect();
    bus.publish(&more).await.unwrap();
    assert_eq!(receive(&mut rx, more.len()).await, more);
    consumer.stop().await.unwrap();

    let depths = bus.depths().await.unwrap();
    assert_eq!((depths.ready, depths.dead), (0, 0));
    assert_nothing_left(&fixture).await;
}

async fn a_retried_event_is_redelivered_then_acknowledged_once(fixture: Fixture) {
    let bus = fixture.bus();
    let calls = Arc::new(AtomicU32::new(0));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let handler = {
        let calls = Arc::clone(&calls);
        move |event: OrderEvent| {
            let call = calls.fetch_add(1, Ordering::SeqCst) + 1;
            let _ = tx.send(event);
            async move {
                if call <= 2 {
                    Err(Handling::Retry(format!("attempt {call}: try again")))
                } else {
                    Ok(())
                }
            }
        }
    };
    let consumer = spawn_consumer(&bus, handler);
    let sent = event(EventKind::OrderCharged, "o-retry");
    bus.publish(std::slice::from_ref(&sent)).await.unwrap();
    let deliveries = receive(&mut rx, 3).await;
    assert!(deliveries.iter().all(|d| *d == sent), "{deliveries:?}");
    consumer.stop().await.unwrap();

    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(bus.depths().await.unwrap().dead, 0);
    // Acknowledged: not handed back, so a new consumer sees only new events.
    assert_nothing_left(&fixture).await;
}

async fn poison_goes_to_the_dead_letter_queue(fixture: Fixture) {
    let bus = fixture.bus();
    bus.publish_raw("order.placed", b"not json").await.unwrap();
    let poison = event(EventKind::OrderPlaced, "o-poison");
    let good = event(EventKind::OrderPlaced, "o-good");
    bus.publish(&[poison.clone(), good.clone()]).await.unwrap();

    let (tx, mut rx) = mpsc::unbounded_channel();
    let consumer = spawn_consumer(&bus, move |event: OrderEvent| {
        let _ = tx.send(event.clone());
        async move {
            if event.order_id == "o-poison" {
                Err(Handling::Poison("no such order".to_owned()))
            } else {
                Ok(())
            }
        }
    });
    // The undecodable body never reaches the handler.
    assert_eq!(receive(&mut rx, 2).await, [poison.clone(), good]);
    dead_letters_reach(&bus, 2).await;
    consumer.stop().await.unwrap();

    let mut letters = bus.drain_dead_letters(10).await.unwrap();
    assert_eq!(letters.len(), 2, "{letters:?}");
    letters.sort_by_key(|l| l.event.is_some());
    assert_eq!(letters[0].body, b"not json");
    assert_eq!(letters[0].event, None);
    assert_eq!(letters[1].event.as_ref(), Some(&poison));
    assert_eq!(letters[1].body, poison.to_json().as_bytes());
    for letter in &letters {
        assert_eq!(letter.reason.as_deref(), Some(topology::REASON_REJECTED));
    }
    let depths = bus.depths().await.unwrap();
    assert_eq!((depths.ready, depths.dead), (0, 0));
    assert!(bus.drain_dead_letters(10).await.unwrap().is_empty());
}

async fn endless_retries_are_dead_lettered_after_the_delivery_limit(fixture: Fixture) {
    let bus = fixture.bus();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let consumer = spawn_consumer(&bus, move |event: OrderEvent| {
        let _ = tx.send(event);
        async { Err(Handling::Retry("still down".to_owned())) }
    });
    let sent = event(EventKind::OrderShipped, "o-forever");
    bus.publish(std::slice::from_ref(&sent)).await.unwrap();
    dead_letters_reach(&bus, 1).await;
    consumer.stop().await.unwrap();

    // Handed back `limit` times: delivered once more than that, then given up.
    let mut deliveries = 0;
    while let Ok(delivered) = rx.try_recv() {
        assert_eq!(delivered, sent);
        deliveries += 1;
    }
    assert_eq!(deliveries, DELIVERY_LIMIT + 1);
    let letters = bus.drain_dead_letters(10).await.unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].event.as_ref(), Some(&sent));
    assert_eq!(
        letters[0].reason.as_deref(),
        Some(topology::REASON_DELIVERY_LIMIT)
    );
    assert_eq!(bus.depths().await.unwrap().ready, 0);
}

async fn an_unacknowledged_event_goes_to_the_next_consumer(fixture: Fixture) {
    let bus = fixture.bus();
    let (tx, mut rx) = mpsc::unbounded_channel();
    // A handler that never finishes: the event stays unacknowledged.
    let stuck = spawn_consumer(&bus, move |event: OrderEvent| {
        let _ = tx.send(event);
        std::future::pending()
    });
    let sent = event(EventKind::OrderDispatched, "o-stuck");
    bus.publish(std::slice::from_ref(&sent)).await.unwrap();
    assert_eq!(receive(&mut rx, 1).await, std::slice::from_ref(&sent));
    stuck.stop().await.unwrap();

    let (handler, mut rx) = recorder();
    let next = spawn_consumer(&fixture.bus(), handler);
    assert_eq!(receive(&mut rx, 1).await, [sent]);
    next.stop().await.unwrap();
    assert_eq!(bus.depths().await.unwrap().dead, 0);
    assert_nothing_left(&fixture).await;
}
