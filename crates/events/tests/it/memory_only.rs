//! What only the memory hub has: a bound, and the process-wide default hub.

use boutique_events::{Bus, DEFAULT_HUB, EventKind, EventsConfig, EventsError, OrderEvent, SCHEMA};

use crate::helpers::{event, receive, recorder, spawn_consumer, test_config};

#[tokio::test]
async fn a_full_hub_refuses_the_whole_batch() {
    let bus = Bus::memory_with(
        "memory-only-full",
        EventsConfig {
            memory_capacity: 3,
            ..test_config()
        },
    );
    let two: Vec<OrderEvent> = (0..2)
        .map(|i| event(EventKind::OrderPlaced, &format!("o-{i}")))
        .collect();
    bus.publish(&two).await.unwrap();
    // Two more would pass the bound: none of them is queued.
    let error = bus.publish(&two).await.unwrap_err();
    assert!(
        matches!(error, EventsError::Full { capacity: 3 }),
        "{error:?}"
    );
    assert_eq!(bus.depths().await.unwrap().ready, 2);
    bus.publish(&two[..1]).await.unwrap();
    assert_eq!(bus.depths().await.unwrap().ready, 3);

    // Consuming makes room.
    let (handler, mut rx) = recorder();
    let consumer = spawn_consumer(&bus, handler);
    receive(&mut rx, 3).await;
    consumer.stop().await.unwrap();
    bus.publish(&two).await.unwrap();
}

#[tokio::test]
async fn services_in_one_process_share_the_default_hub() {
    let config = EventsConfig::from_env(&boutique_platform::Env::default()).unwrap();
    let orders = Bus::new(config.clone());
    let dispatch = Bus::new(config);
    assert_eq!(
        orders.to_string(),
        format!("in-process hub {DEFAULT_HUB:?} (lost at exit)")
    );
    let (handler, mut rx) = recorder();
    let consumer = spawn_consumer(&dispatch, handler);
    let sent = event(EventKind::OrderPlaced, "o-shared");
    orders.publish(std::slice::from_ref(&sent)).await.unwrap();
    assert_eq!(receive(&mut rx, 1).await, [sent]);
    consumer.stop().await.unwrap();
    // A named hub is another hub.
    assert_eq!(
        Bus::memory("memory-only-other")
            .depths()
            .await
            .unwrap()
            .ready,
        0
    );
}

#[tokio::test]
async fn refuses_what_is_not_an_event_of_our_schema() {
    let bus = Bus::memory("memory-only-invalid");
    let mut wrong = event(EventKind::OrderPlaced, "o-1");
    wrong.schema = "boutique.order-event.v0".to_owned();
    let error = bus.publish(&[wrong]).await.unwrap_err();
    assert!(
        matches!(&error, EventsError::Invalid { reason, .. } if reason.contains(SCHEMA)),
        "{error:?}"
    );
    let mut unnamed = event(EventKind::OrderPlaced, "o-1");
    unnamed.id.clear();
    assert!(matches!(
        bus.publish(&[unnamed]).await,
        Err(EventsError::Invalid { .. })
    ));
    // A routing key outside `order.#` reaches no queue.
    assert!(matches!(
        bus.publish_raw("payment.charged", b"{}").await,
        Err(EventsError::Unroutable { .. })
    ));
    assert_eq!(bus.depths().await.unwrap().ready, 0);
}
