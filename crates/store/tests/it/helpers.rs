//! The backend matrix: a fresh database of each kind for each test.
//!
//! [`on_every_backend!`] turns one `async fn(TestDb)` into a test per backend.
//! The PostgreSQL variant starts its own server (skipped with a message when
//! PostgreSQL is not installed, failed under `CI=true`) and takes a fresh
//! database on it.

use std::time::Duration;

use boutique_money::Money;
use boutique_store::{Charge, Database, DatabaseUrl, Location, StoreConfig};
use boutique_testkit::postgres::PostgresServer;

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    SqliteFile,
    SqliteMemory,
    Postgres,
}

/// A fresh, empty database and what keeps it alive.
#[derive(Debug)]
pub(crate) struct TestDb {
    pub(crate) config: StoreConfig,
    // Dropped after the test: the SQLite file's directory, the PostgreSQL server.
    _dir: Option<tempfile::TempDir>,
    pub(crate) server: Option<PostgresServer>,
}

impl TestDb {
    /// A fresh database of `kind`, or `None` to skip (PostgreSQL missing).
    pub(crate) fn new(kind: Kind) -> Option<Self> {
        let (location, dir, server) = match kind {
            Kind::SqliteFile => {
                let dir = tempfile::tempdir().expect("temp dir");
                let path = dir.path().join("nested/dirs/boutique.db");
                (Location::SqliteFile(path), Some(dir), None)
            }
            Kind::SqliteMemory => (Location::SqliteMemory, None, None),
            Kind::Postgres => {
                let server = PostgresServer::start()?;
                let url = server.create_database();
                (
                    Location::Postgres(DatabaseUrl::new(url)),
                    None,
                    Some(server),
                )
            }
        };
        let mut config = StoreConfig::at(location);
        // Enough connections for real contention in the concurrency tests.
        config.max_connections = 16;
        config.acquire_timeout = Duration::from_secs(30);
        Some(Self {
            config,
            _dir: dir,
            server,
        })
    }

    /// Connects and migrates.
    pub(crate) async fn open(&self) -> Database {
        let db = Database::connect(&self.config)
            .await
            .unwrap_or_else(|e| panic!("connect to {}: {}", self.config.location, chain(&e)));
        db.migrate()
            .await
            .unwrap_or_else(|e| panic!("migrate {}: {}", self.config.location, chain(&e)));
        db
    }
}

/// A valid charge with the given transaction id.
pub(crate) fn charge(transaction_id: &str) -> Charge {
    Charge {
        transaction_id: transaction_id.to_owned(),
        amount: Money::new("USD", 28, 980_000_000).unwrap(),
        card_last_four: "4242".to_owned(),
    }
}

/// An error and all its causes, as one line.
pub(crate) fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Defines, for each `async fn name(TestDb)`, a module `name` with one test
/// per backend: `sqlite_file`, `sqlite_memory`, `postgres`.
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use crate::helpers::{Kind, TestDb};

                async fn run(kind: Kind) {
                    if let Some(db) = TestDb::new(kind) {
                        super::$name(db).await;
                    }
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite_file() {
                    run(Kind::SqliteFile).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite_memory() {
                    run(Kind::SqliteMemory).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(missing_postgres, ignore = "needs PostgreSQL (Debian postgresql)")]
                async fn postgres() {
                    run(Kind::Postgres).await;
                }
            }
        )*
    };
}
pub(crate) use on_every_backend;
