//! The payment ledger on every backend: insert-or-get, under contention too.

use std::sync::Arc;

use boutique_money::Money;
use boutique_store::{Charge, ChargeLedger, MAX_KEY_LEN, Recorded, Settled, StoreError};
use tokio::sync::Barrier;

use crate::helpers::{TestDb, chain, charge, on_every_backend};

on_every_backend!(
    record_charge_is_insert_or_get,
    concurrent_records_of_one_key_store_one_row,
    rejects_what_it_must_not_keep,
    settling_returns_the_charge_or_voids_the_key,
    a_settle_racing_a_charge_leaves_one_answer,
);

async fn record_charge_is_insert_or_get(db: TestDb) {
    let ledger = ChargeLedger::new(&db.open().await);
    assert_eq!(ledger.find_charge("order-1").await.unwrap(), None);

    let first = ledger
        .record_charge("order-1", &charge("tx-1"))
        .await
        .unwrap();
    let Recorded::Inserted(stored) = &first else {
        panic!("a new key must insert, got {first:?}");
    };
    assert_eq!(stored.idempotency_key, "order-1");
    assert_eq!(stored.charge, charge("tx-1"));
    assert!(stored.created_at_ms > 1_600_000_000_000, "{stored:?}");

    // The same key again, even with another transaction and amount: the first wins.
    let mut other = charge("tx-2");
    other.amount = Money::new("EUR", -1, -500_000_000).unwrap();
    let again = ledger.record_charge("order-1", &other).await.unwrap();
    assert_eq!(again, Recorded::Existing(stored.clone()));
    assert!(!again.is_new());
    assert_eq!(
        ledger.find_charge("order-1").await.unwrap().as_ref(),
        Some(stored)
    );

    // Another key is another charge; money round-trips exactly, negative too.
    let second = ledger.record_charge("order-2", &other).await.unwrap();
    assert!(second.is_new());
    assert_eq!(
        ledger.find_charge("order-2").await.unwrap().unwrap().charge,
        other
    );
    assert_eq!(ledger.count().await.unwrap(), 2);
}

async fn concurrent_records_of_one_key_store_one_row(db: TestDb) {
    const CALLERS: usize = 64;
    let ledger = ChargeLedger::new(&db.open().await);
    let barrier = Arc::new(Barrier::new(CALLERS));
    let tasks: Vec<_> = (0..CALLERS)
        .map(|i| {
            let ledger = ledger.clone();
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                ledger
                    .record_charge("one-cart", &charge(&format!("tx-{i}")))
                    .await
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        let recorded = task
            .await
            .expect("task")
            .unwrap_or_else(|e| panic!("record_charge failed: {}", chain(&e)));
        results.push(recorded);
    }
    let winners: Vec<&Recorded> = results.iter().filter(|r| r.is_new()).collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one call must insert: {results:?}"
    );
    let winner = winners[0].stored().cloned();
    for recorded in &results {
        assert_eq!(
            recorded.stored().cloned(),
            winner,
            "every caller gets the first charge"
        );
    }
    assert_eq!(ledger.count().await.unwrap(), 1);
    assert_eq!(
        ledger.find_charge("one-cart").await.unwrap(),
        winner,
        "the stored row is the one every caller was given"
    );
}

async fn rejects_what_it_must_not_keep(db: TestDb) {
    let ledger = ChargeLedger::new(&db.open().await);
    let full_card = Charge {
        card_last_four: "4242424242424242".to_owned(),
        ..charge("tx-card")
    };
    let err = ledger.record_charge("k", &full_card).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid { .. }), "{err:?}");
    assert!(
        !chain(&err).contains("4242"),
        "a card number in an error: {err}"
    );

    for key in [String::new(), "k".repeat(MAX_KEY_LEN + 1)] {
        let err = ledger.record_charge(&key, &charge("tx")).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid { .. }), "{err:?}");
    }
    let longest = "k".repeat(MAX_KEY_LEN);
    assert!(
        ledger
            .record_charge(&longest, &charge("tx"))
            .await
            .unwrap()
            .is_new()
    );

    // One transaction id answers one key: reusing it under another key is refused
    // by the table, and the ledger keeps only the first.
    let err = ledger
        .record_charge("other", &charge("tx"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Query { .. }), "{err:?}");
    assert_eq!(ledger.count().await.unwrap(), 1);
}

async fn settling_returns_the_charge_or_voids_the_key(db: TestDb) {
    let ledger = ChargeLedger::new(&db.open().await);
    ledger.record_charge("paid", &charge("tx-1")).await.unwrap();
    let Settled::Charged(stored) = ledger.settle("paid").await.unwrap() else {
        panic!("a recorded charge settles as charged");
    };
    assert_eq!(stored.charge, charge("tx-1"));

    assert_eq!(ledger.settle("lost").await.unwrap(), Settled::Voided);
    assert_eq!(
        ledger.settle("lost").await.unwrap(),
        Settled::Voided,
        "for good"
    );
    // A charge arriving late with a voided key is refused, and nothing is kept.
    let late = ledger.record_charge("lost", &charge("tx-2")).await.unwrap();
    assert_eq!(late, Recorded::Voided);
    assert_eq!(ledger.find_charge("lost").await.unwrap(), None);
    assert_eq!(ledger.count().await.unwrap(), 1, "voids are not charges");
    assert_eq!(
        ledger.all().await.unwrap(),
        [("paid".to_owned(), "tx-1".to_owned())]
    );
}

async fn a_settle_racing_a_charge_leaves_one_answer(db: TestDb) {
    let ledger = ChargeLedger::new(&db.open().await);
    for round in 0..20 {
        let key = format!("race-{round}");
        let paid = charge(&format!("tx-{round}"));
        let (charged, settled) =
            tokio::join!(ledger.record_charge(&key, &paid), ledger.settle(&key));
        match (charged.unwrap(), settled.unwrap()) {
            (Recorded::Inserted(stored), Settled::Charged(seen)) => assert_eq!(stored, seen),
            (Recorded::Voided, Settled::Voided) => {}
            other => panic!("the charge and the settle disagree: {other:?}"),
        }
    }
}
