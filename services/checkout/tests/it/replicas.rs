//! Two checkout replicas, each with its own orders replica, on one
//! PostgreSQL: the cart claim lives in the database, so concurrent checkouts
//! of one cart through both charge it once.

use boutique_proto::PlaceOrderRequest;
use boutique_store::{DatabaseUrl, Location, StoreConfig};
use boutique_testkit::postgres::PostgresServer;
use tonic::Code;

use crate::{
    fakes::CountingPayment,
    helpers::{Shop, order_request},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(missing_postgres, ignore = "needs PostgreSQL (Debian postgresql)")]
async fn two_replicas_on_one_postgresql_charge_a_cart_once() {
    let Some(server) = PostgresServer::start() else {
        return;
    };
    let database = StoreConfig::at(Location::Postgres(DatabaseUrl::new(
        server.create_database(),
    )));
    let payment = CountingPayment::default();
    let mut shop = Shop::start_on(
        Some(database),
        vec![("payment", payment.spawn().await)],
        |_| {},
    )
    .await;
    let (other, servers) = shop.replica().await;
    shop.add("shared", "OLJCESPC7Z", 1).await;

    // Each replica gets half the attempts, each attempt with its own email.
    let attempts = (0..8).map(|i| {
        let mut client = if i % 2 == 0 {
            shop.client.clone()
        } else {
            other.clone()
        };
        let request = PlaceOrderRequest {
            email: format!("tab-{i}@example.com"),
            ..order_request("shared", "USD")
        };
        async move { client.place_order(request).await }
    });
    let mut placed = Vec::new();
    for outcome in futures::future::join_all(attempts).await {
        match outcome {
            Ok(response) => placed.push(response.into_inner().order.unwrap().order_id),
            Err(status) => assert!(
                matches!(status.code(), Code::FailedPrecondition),
                "refused, not failed: {status:?}"
            ),
        }
    }
    assert!(!placed.is_empty(), "one of them is placed");
    assert!(placed.iter().all(|id| id == &placed[0]), "{placed:?}");
    assert_eq!(payment.charges(), 1, "the cart was charged once");
    assert_eq!(shop.records().await.len(), 1);
    for server in servers {
        server.stop().await;
    }
    shop.stop().await;
}
