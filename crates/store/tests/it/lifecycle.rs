//! Opening, migrating, closing and reopening, on every backend.

use boutique_store::{
    ChargeLedger, Database, Location, OrderBook,
    orders::{Begun, NewOrder, OrderState},
};

use crate::helpers::{TestDb, charge, on_every_backend};

on_every_backend!(migrations_apply_once, data_survives_reopening);

/// The versions recorded in sqlx's bookkeeping table.
async fn applied_versions(db: &Database) -> Vec<i64> {
    sqlx::query_as::<_, (i64,)>("SELECT version FROM _sqlx_migrations ORDER BY version")
        .fetch_all(db.pool())
        .await
        .expect("read _sqlx_migrations")
        .into_iter()
        .map(|(v,)| v)
        .collect()
}

async fn migrations_apply_once(db: TestDb) {
    let first = db.open().await;
    let want = Database::migration_versions();
    assert!(!want.is_empty());
    assert_eq!(applied_versions(&first).await, want);
    // Again on the same pool, then from a second pool: nothing new, no error.
    first.migrate().await.expect("second migrate");
    let second = if db.config.location == Location::SqliteMemory {
        first.clone()
    } else {
        db.open().await
    };
    assert_eq!(applied_versions(&second).await, want);
    // The table is there and empty.
    assert_eq!(ChargeLedger::new(&second).count().await.unwrap(), 0);
}

async fn data_survives_reopening(db: TestDb) {
    if db.config.location == Location::SqliteMemory {
        // Memory is meant to vanish; see backends::memory_databases_are_private.
        return;
    }
    let order = NewOrder {
        id: "kept-order".to_owned(),
        owner: "ana".to_owned(),
        cart_id: "ana".to_owned(),
        idempotency_key: Some("k".to_owned()),
        request_digest: "d".to_owned(),
        email: "ana@example.com".to_owned(),
        address: Default::default(),
        currency_code: "USD".to_owned(),
        card_last_four: "0454".to_owned(),
    };
    let before = {
        let first = db.open().await;
        assert!(matches!(
            OrderBook::new(&first).begin(&order).await.unwrap(),
            Begun::Created(_)
        ));
        let recorded = ChargeLedger::new(&first)
            .record_charge("kept", &charge("tx-kept"))
            .await
            .unwrap();
        first.close().await;
        recorded.stored().cloned()
    };
    let reopened = db.open().await;
    let ledger = ChargeLedger::new(&reopened);
    assert_eq!(ledger.find_charge("kept").await.unwrap(), before);
    assert!(
        !ledger
            .record_charge("kept", &charge("tx-new"))
            .await
            .unwrap()
            .is_new()
    );
    // The order, its cart claim and its key are still there.
    let book = OrderBook::new(&reopened);
    let kept = book
        .get("kept-order")
        .await
        .unwrap()
        .expect("the order survives");
    assert_eq!(kept.state, OrderState::Created);
    let again = NewOrder {
        id: "another".to_owned(),
        ..order
    };
    assert_eq!(book.begin(&again).await.unwrap(), Begun::Replayed(kept));
}
