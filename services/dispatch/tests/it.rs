//! The dispatch service with the real orders service, over the in-process
//! queue and over a real RabbitMQ: shipped orders are dispatched and
//! delivered, a duplicated event changes nothing, poison is dead-lettered,
//! and a broker outage delays events without losing one.

mod support;

use std::time::{Duration, Instant};

use boutique_events::{Bus, EventKind, EventsConfig, OrderEvent};
use boutique_platform::{Env, ServiceConfig, testing::TestServer};
use boutique_proto::boutique::orders::v1::{
    GetOrderRequest, Order, OrderState, order_service_client::OrderServiceClient,
};
use boutique_store::{Location, StoreConfig};
use boutique_testkit::rabbitmq::RabbitServer;
use support::shipped_order;
use tonic::transport::Channel;

/// How long a test waits for the queue to catch up.
const PATIENCE: Duration = Duration::from_secs(60);

fn loopback(amqp_url: Option<&str>) -> Env {
    let env = Env::from_pairs([("LISTEN_ADDR", "127.0.0.1"), ("PORT", "0")]);
    match amqp_url {
        Some(url) => env.with("AMQP_URL", url),
        None => env,
    }
}

/// The orders service (its database a file in `dir`) and dispatch beside it.
async fn start(dir: &std::path::Path, amqp_url: Option<&str>) -> (TestServer, TestServer) {
    let mut orders = boutique_orders::Config::from_env(&loopback(amqp_url)).unwrap();
    orders.database = StoreConfig::at(Location::SqliteFile(dir.join("orders.db")));
    let orders = TestServer::start(orders).await;
    let env = loopback(amqp_url)
        .with("ORDERS_SERVICE_ADDR", orders.addr().to_string())
        .with("DISPATCH_DELAY", "0s")
        .with("DELIVERY_DELAY", "0s");
    let dispatch = TestServer::start(boutique_dispatch::Config::from_env(&env).unwrap()).await;
    (orders, dispatch)
}

async fn order(client: &mut OrderServiceClient<Channel>, id: &str) -> Order {
    client
        .get_order(GetOrderRequest {
            order_id: id.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
}

/// Waits (bounded) until every order in `ids` is delivered.
async fn all_delivered(client: &mut OrderServiceClient<Channel>, ids: &[String]) {
    let deadline = Instant::now() + PATIENCE;
    for id in ids {
        loop {
            let order = order(client, id).await;
            if order.state == i32::from(OrderState::Delivered) {
                break;
            }
            assert!(Instant::now() < deadline, "never delivered: {order:#?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The dispatch metric `name` with these labels (besides `service_name`).
fn metric(dispatch: &TestServer, name: &str, labels: &[(&str, &str)]) -> f64 {
    let text = dispatch.telemetry().metrics().registry().render();
    let mut all = vec![("service_name", "dispatch")];
    all.extend_from_slice(labels);
    boutique_platform::testing::sample(&text, name, &all).unwrap_or(0.0)
}

/// Waits (bounded) until `done` holds.
async fn eventually<Fut: Future<Output = bool>>(what: &str, mut done: impl FnMut() -> Fut) {
    boutique_testkit::eventually(what, PATIENCE, || {
        let check = done();
        async move { check.await.then_some(()) }
    })
    .await;
}

/// Shipped orders arrive; a duplicate of an event and a poison message are
/// handled as they must be, on whichever bus `bus` is.
async fn dispatches_once_and_dead_letters_poison(
    orders: &TestServer,
    dispatch: &TestServer,
    bus: &Bus,
) {
    let mut client = OrderServiceClient::new(orders.channel().await);
    let ids = [
        shipped_order(&mut client, "cart-1").await,
        shipped_order(&mut client, "cart-2").await,
    ];
    all_delivered(&mut client, &ids).await;
    let delivered = order(&mut client, &ids[0]).await;
    let states: Vec<i32> = delivered.history.iter().map(|h| h.state).collect();
    assert_eq!(
        states,
        [
            OrderState::Created,
            OrderState::Charged,
            OrderState::Shipped,
            OrderState::Dispatched,
            OrderState::Delivered
        ]
        .map(i32::from)
    );

    // The OrderShipped event again, as a redelivery would bring it.
    let handled = |kind: &'static str, outcome: &'static str| {
        metric(
            dispatch,
            "boutique_dispatch_events_total",
            &[("type", kind), ("outcome", outcome)],
        )
    };
    let duplicates = handled("OrderShipped", "duplicate");
    let mut again = OrderEvent::new(EventKind::OrderShipped, ids[0].clone(), "shipped");
    again.id = format!("{}/3/OrderShipped", ids[0]);
    bus.publish(&[again]).await.unwrap();
    eventually("the duplicate is consumed", || async {
        handled("OrderShipped", "duplicate") > duplicates
    })
    .await;
    assert_eq!(order(&mut client, &ids[0]).await.history, delivered.history);

    // Poison: not an order event, and an event for no order.
    bus.publish_raw("order.shipped", b"not json").await.unwrap();
    bus.publish(&[OrderEvent::new(
        EventKind::OrderShipped,
        "no-such-order",
        "shipped",
    )])
    .await
    .unwrap();
    eventually("two dead letters", || async {
        bus.depths().await.is_ok_and(|d| d.dead >= 2)
    })
    .await;
    let dead = bus.drain_dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 2, "{dead:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_in_process_queue() {
    let dir = tempfile::tempdir().unwrap();
    let (orders, dispatch) = start(dir.path(), None).await;
    // The same process-wide hub the two services publish to and consume from.
    let bus = Bus::new(EventsConfig::default());
    dispatches_once_and_dead_letters_poison(&orders, &dispatch, &bus).await;
    dispatch.stop().await;
    orders.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    missing_rabbitmq_server,
    ignore = "needs rabbitmq-server (Debian rabbitmq-server)"
)]
async fn through_rabbitmq_with_an_outage() {
    // A broker of its own: the test stops it.
    let Some(mut server) = RabbitServer::start() else {
        return;
    };
    let url = server.amqp_url();
    let dir = tempfile::tempdir().unwrap();
    let (orders, dispatch) = start(dir.path(), Some(&url)).await;
    let bus = Bus::new(EventsConfig::amqp(&url).unwrap());
    dispatches_once_and_dead_letters_poison(&orders, &dispatch, &bus).await;

    // The broker goes away during a burst of orders: every order is stored
    // (the events wait in the outbox), and every event arrives once it is back.
    server.stop();
    let mut client = OrderServiceClient::new(orders.channel().await);
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(shipped_order(&mut client, &format!("burst-{n}")).await);
    }
    for id in &ids {
        assert_eq!(
            order(&mut client, id).await.state,
            i32::from(OrderState::Shipped)
        );
    }
    server.start_again();
    all_delivered(&mut client, &ids).await;
    let queues = server.list_queues("/");
    assert!(
        queues.iter().any(|(name, _)| name == "boutique.dispatch")
            && queues
                .iter()
                .any(|(name, _)| name == "boutique.dispatch.dead"),
        "{queues:?}"
    );
    dispatch.stop().await;
    orders.stop().await;
}
