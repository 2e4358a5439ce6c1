//! What only the database store promises: a cart outlives the process that
//! took it (a restart, a rolling update) and every replica sees the same cart.

use crate::helpers::{TestApp, config, database_env, lines};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cart_is_shared_by_replicas_and_outlives_them() {
    let data = tempfile::tempdir().unwrap();
    let env = database_env(data.path());
    let first = TestApp::spawn(config(&env), None).await;
    let second = TestApp::spawn(config(&env), None).await;
    first.add("u", "OLJCESPC7Z", 2).await.unwrap();
    second.add("u", "66VCHSJNUP", 1).await.unwrap();
    second.add("u", "OLJCESPC7Z", 1).await.unwrap();
    let expected = lines(&[("OLJCESPC7Z", 3), ("66VCHSJNUP", 1)]);
    assert_eq!(first.items("u").await, expected);
    first.stop().await;
    second.stop().await;

    let restarted = TestApp::spawn(config(&env), None).await;
    assert_eq!(restarted.items("u").await, expected);
    restarted.empty("u").await.unwrap();
    assert!(restarted.items("u").await.is_empty());
    restarted.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_the_database_cannot_keep_is_invalid_not_an_outage() {
    let data = tempfile::tempdir().unwrap();
    let app = TestApp::spawn(config(&database_env(data.path())), None).await;
    let error = app
        .add(&"u".repeat(300), "OLJCESPC7Z", 1)
        .await
        .unwrap_err();
    assert_eq!(error.code(), tonic::Code::InvalidArgument, "{error:?}");
    app.stop().await;
}
