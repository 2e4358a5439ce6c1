//! Concurrent adds over several gRPC connections: no lost updates, and the
//! line limit holds under contention. Run against every store.

use futures::future::join_all;
use tonic::Code;

use crate::helpers::{TestApp, add, lines, on_every_backend};

const CONNECTIONS: usize = 4;

on_every_backend!(
    concurrent_adds_lose_no_update,
    concurrent_adds_never_exceed_the_limit
);

/// Fires `calls` AddItem(quantity 1) calls at once, spread over several
/// connections, and returns each call's outcome.
async fn add_concurrently(
    app: &TestApp,
    user: &str,
    product: &str,
    calls: usize,
) -> Vec<Result<(), Code>> {
    let mut clients = Vec::new();
    for _ in 0..CONNECTIONS {
        clients.push(app.new_client().await);
    }
    let tasks = (0..calls).map(|n| {
        let mut client = clients[n % CONNECTIONS].clone();
        let (user, product) = (user.to_owned(), product.to_owned());
        tokio::spawn(async move {
            add(&mut client, &user, &product, 1)
                .await
                .map_err(|s| s.code())
        })
    });
    join_all(tasks)
        .await
        .into_iter()
        .map(|joined| joined.expect("the call task did not panic"))
        .collect()
}

async fn concurrent_adds_lose_no_update(app: TestApp) {
    let outcomes = add_concurrently(&app, "u", "OLJCESPC7Z", 200).await;
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    assert_eq!(app.items("u").await, lines(&[("OLJCESPC7Z", 200)]));
    app.stop().await;
}

async fn concurrent_adds_never_exceed_the_limit(app: TestApp) {
    app.add("u", "OLJCESPC7Z", 9_900).await.unwrap();
    let outcomes = add_concurrently(&app, "u", "OLJCESPC7Z", 200).await;
    let accepted = outcomes.iter().filter(|o| o.is_ok()).count();
    let rejected = outcomes
        .iter()
        .filter(|o| **o == Err(Code::InvalidArgument))
        .count();
    assert_eq!((accepted, rejected), (100, 100), "{outcomes:?}");
    assert_eq!(app.items("u").await, lines(&[("OLJCESPC7Z", 10_000)]));
    app.stop().await;
}
