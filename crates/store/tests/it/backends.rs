//! What each backend promises on its own: SQLite's file, journal and pragmas,
//! private memory databases, and connection errors that keep passwords out.

use std::time::Duration;

use boutique_store::{
    Backend, ChargeLedger, Database, DatabaseUrl, Location, StoreConfig, StoreError,
};

use crate::helpers::{Kind, TestDb, chain, charge};

#[tokio::test]
async fn sqlite_file_is_created_in_wal_mode_with_foreign_keys() {
    let db = TestDb::new(Kind::SqliteFile).unwrap();
    let Location::SqliteFile(path) = &db.config.location else {
        unreachable!()
    };
    assert!(!path.exists());
    let open = db.open().await;
    assert_eq!(open.backend(), Backend::Sqlite);
    assert!(path.is_file(), "{} was not created", path.display());
    let pool = open.pool();
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    // Every connection of the pool, not just the first: hold several at once.
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(pool.acquire().await.unwrap());
    }
    for conn in &mut held {
        let (fk,): (i64,) = sqlx::query_as("PRAGMA foreign_keys")
            .fetch_one(&mut **conn)
            .await
            .unwrap();
        assert_eq!(fk, 1);
        let (busy,): (i64,) = sqlx::query_as("PRAGMA busy_timeout")
            .fetch_one(&mut **conn)
            .await
            .unwrap();
        assert_eq!(busy, 5000);
    }
}

#[tokio::test]
async fn sqlite_data_dir_that_is_a_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "").unwrap();
    let config = StoreConfig::at(Location::SqliteFile(blocker.join("boutique.db")));
    let err = Database::connect(&config).await.unwrap_err();
    assert!(matches!(err, StoreError::DataDir { .. }), "{err:?}");
    assert!(chain(&err).contains("not-a-dir"), "{}", chain(&err));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_databases_are_private_and_shared_by_their_pool() {
    let mut config = StoreConfig::memory();
    config.max_connections = 4;
    let a = Database::connect(&config).await.unwrap();
    a.migrate().await.unwrap();
    let b = Database::connect(&config).await.unwrap();
    b.migrate().await.unwrap();
    let ledger_a = ChargeLedger::new(&a);
    ledger_a.record_charge("k", &charge("tx")).await.unwrap();
    assert_eq!(ChargeLedger::new(&b).find_charge("k").await.unwrap(), None);

    // Every connection of a's pool sees the same database (with the Any driver
    // a plain sqlite::memory: would give each connection an empty one).
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(a.pool().acquire().await.unwrap());
    }
    for conn in &mut held {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM payment_charges")
            .fetch_one(&mut **conn)
            .await
            .unwrap();
        assert_eq!(n, 1);
    }

    // The pool may close all its connections (errors, idle reaping): the data
    // stays while `a` lives.
    for conn in held {
        conn.close().await.unwrap();
    }
    assert_eq!(a.pool().size(), 0, "every pool connection is closed");
    assert!(ledger_a.find_charge("k").await.unwrap().is_some());
}

#[tokio::test]
async fn unreachable_postgres_error_names_the_server_but_not_the_password() {
    let port = boutique_testkit::free_port(); // nothing listens there
    let url = format!("postgres://shop:s3cr3t-pw@127.0.0.1:{port}/shop?password=s3cr3t-pw");
    let mut config = StoreConfig::at(Location::Postgres(DatabaseUrl::new(url)));
    config.acquire_timeout = Duration::from_secs(1);
    let err = Database::connect(&config).await.unwrap_err();
    let text = format!("{} / {err:?}", chain(&err));
    assert!(matches!(err, StoreError::Connect { .. }), "{text}");
    assert!(!text.contains("s3cr3t"), "password leaked: {text}");
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(missing_postgres, ignore = "needs PostgreSQL (Debian postgresql)")]
async fn postgres_refusal_keeps_the_password_out() {
    let Some(db) = TestDb::new(Kind::Postgres) else {
        return;
    };
    let server = db.server.as_ref().unwrap();
    let url = format!(
        "postgres://postgres:s3cr3t-pw@127.0.0.1:{}/no_such_database",
        server.port()
    );
    let mut config = StoreConfig::at(Location::Postgres(DatabaseUrl::new(url)));
    config.acquire_timeout = Duration::from_secs(5);
    let err = Database::connect(&config).await.unwrap_err();
    let text = format!("{} / {err:?}", chain(&err));
    assert!(text.contains("no_such_database"), "{text}");
    assert!(!text.contains("s3cr3t"), "password leaked: {text}");
    // The same server with the right database works, and says it is PostgreSQL.
    assert_eq!(db.open().await.backend(), Backend::Postgres);
}
