//! Resent charges: the same `idempotency-key` gets the first charge's
//! transaction id and charges nothing again; charges without a key stay
//! independent, as upstream.

use boutique_proto::ChargeRequest;
use tonic::{Code, Request};

use crate::helpers::{charge, spawn_app, usd};

const VISA: &str = "4111111111111111";

fn keyed(request: ChargeRequest, key: &str) -> Request<ChargeRequest> {
    let mut request = Request::new(request);
    request
        .metadata_mut()
        .insert("idempotency-key", key.parse().unwrap());
    request
}

#[tokio::test]
async fn a_resent_charge_gets_the_first_transaction_id() {
    let app = spawn_app().await;
    let mut client = app.client.clone();
    let first = client
        .charge(keyed(charge(VISA), "order-1"))
        .await
        .unwrap()
        .into_inner();
    let again = client
        .charge(keyed(charge(VISA), "order-1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.transaction_id, first.transaction_id);

    let other = client
        .charge(keyed(charge(VISA), "order-2"))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(other.transaction_id, first.transaction_id);

    // Without a key every charge is its own, as upstream.
    let plain_a = client.charge(charge(VISA)).await.unwrap().into_inner();
    let plain_b = client.charge(charge(VISA)).await.unwrap().into_inner();
    assert_ne!(plain_a.transaction_id, plain_b.transaction_id);
}

#[tokio::test]
async fn concurrent_resends_charge_once() {
    let app = spawn_app().await;
    let sends = (0..32).map(|_| {
        let mut client = app.client.clone();
        tokio::spawn(async move { client.charge(keyed(charge(VISA), "order-9")).await })
    });
    let mut ids = std::collections::HashSet::new();
    for send in sends {
        ids.insert(send.await.unwrap().unwrap().into_inner().transaction_id);
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
}

#[tokio::test]
async fn a_key_reused_for_another_charge_is_refused() {
    let app = spawn_app().await;
    let mut client = app.client.clone();
    client.charge(keyed(charge(VISA), "order-3")).await.unwrap();
    let mut bigger = charge(VISA);
    bigger.amount = Some(usd(99, 0));
    let status = client.charge(keyed(bigger, "order-3")).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(status.message().contains("idempotency-key"), "{status:?}");
}

#[tokio::test]
async fn malformed_keys_are_invalid_arguments() {
    let app = spawn_app().await;
    let mut client = app.client.clone();
    for bad in ["with space", &"k".repeat(201)] {
        let status = client.charge(keyed(charge(VISA), bad)).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{bad}");
    }
}

#[tokio::test]
async fn a_declined_charge_does_not_claim_its_key() {
    let app = spawn_app().await;
    let mut client = app.client.clone();
    // Amex is declined; the key stays free for the corrected charge.
    let status = client
        .charge(keyed(charge("378282246310005"), "order-4"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    client.charge(keyed(charge(VISA), "order-4")).await.unwrap();
}

/// A payment service keeping its ledger at `database_url`.
async fn replica(database_url: &str) -> crate::helpers::TestApp {
    crate::helpers::spawn_app_with(&[("DATABASE_URL", database_url)]).await
}

/// The transaction id `app` answers a keyed charge with.
async fn charged(app: &crate::helpers::TestApp, key: &str) -> String {
    let mut client = app.client.clone();
    let reply = client.charge(keyed(charge(VISA), key)).await.unwrap();
    reply.into_inner().transaction_id
}

/// Two replicas sharing one database answer a resend alike, whichever of them
/// gets it, and the ledger outlives them both.
async fn replicas_share_the_ledger(database_url: &str) {
    let a = replica(database_url).await;
    let b = replica(database_url).await;
    let first = charged(&a, "order-shared").await;
    assert_eq!(charged(&b, "order-shared").await, first);
    a.server.stop().await;
    b.server.stop().await;

    // A restart remembers the key.
    let restarted = replica(database_url).await;
    assert_eq!(charged(&restarted, "order-shared").await, first);
    restarted.server.stop().await;
}

#[tokio::test]
async fn replicas_sharing_an_sqlite_file_share_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("payment.db").display());
    replicas_share_the_ledger(&url).await;
}

#[tokio::test]
#[cfg_attr(missing_postgres, ignore = "needs PostgreSQL (Debian postgresql)")]
async fn replicas_sharing_postgresql_share_the_ledger() {
    let Some(server) = boutique_testkit::postgres::PostgresServer::start() else {
        return;
    };
    replicas_share_the_ledger(&server.create_database()).await;
}
