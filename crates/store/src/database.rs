//! Opening the database: one `AnyPool` over SQLite or PostgreSQL, and migrations.
//!
//! Every query goes through the same [`AnyPool`], so one code path serves both
//! backends; what differs is how the pool is opened:
//!
//! - **SQLite file**: the directory and file are created if missing, and the
//!   file is switched to WAL (readers never wait for the writer) once, with a
//!   single connection, before the pool opens (changing the journal mode needs
//!   an exclusive lock that SQLite's busy timeout does not wait for). Every pool
//!   connection then turns foreign keys on and waits up to
//!   [`SQLITE_BUSY_TIMEOUT`] for the write lock instead of failing at once.
//!   `synchronous` stays at SQLite's default, FULL, so a commit survives a
//!   power cut (we keep charges and orders here).
//! - **SQLite in memory**: the `sqlite::memory:` trap is that every connection
//!   opens its own empty database (the Any driver parses the URL again for each
//!   connection). The store names one shared-cache memory database per
//!   [`Database`] and holds one extra connection to it for the `Database`'s
//!   life, so the data does not vanish when the pool recycles its connections.
//! - **PostgreSQL**: opened as the URL says.
//!
//! SQLite has one writer at a time, and a connection that finds the write lock
//! taken polls for it with growing sleeps (the busy timeout), which under load
//! costs far more than the write. So every `Database` of this process on one
//! SQLite file shares one async [`Database::write_lock`]: writers of all the
//! services of `boutique all` queue for it in order instead of polling.
//! (Another process on the same file still waits through the busy timeout.)
//!
//! A write transaction awaits each of its statements (sqlx runs them on the
//! connection's own thread), and while it waits it holds the turn. On the
//! shop's busy runtime every such wake-up queues behind the requests of all
//! the services, so the turn was held many times longer than the work takes.
//! [`Database::write`] therefore runs each write, turn included, on one
//! thread of its own (a small runtime that does nothing else), where the
//! holder is woken at once.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    str::FromStr,
    sync::{
        Arc, Weak,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use sqlx::{
    AnyConnection, AnyPool, ConnectOptions, Connection, Executor,
    any::{AnyConnectOptions, AnyPoolOptions},
    migrate::Migrator,
    sqlite::{SqliteConnectOptions, SqliteJournalMode},
};
use tokio::sync::Mutex;

use crate::{Location, StoreConfig, StoreError, error::Scrubbed};

/// How long an SQLite connection waits for another connection's write to finish.
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_millis(5000);
/// [`SQLITE_BUSY_TIMEOUT`] as a statement (a literal: sqlx executes `'static` text
/// on a fresh connection; a unit test keeps the two equal).
const BUSY_TIMEOUT_PRAGMA: &str = "PRAGMA busy_timeout = 5000";

/// The versioned migrations in `crates/store/migrations`, embedded in the binary.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Names the in-memory databases of this process apart.
static MEMORY_DATABASES: AtomicU64 = AtomicU64::new(0);

/// The write lock of each SQLite file open in this process (see the module docs).
static SQLITE_WRITERS: std::sync::Mutex<BTreeMap<PathBuf, Weak<Mutex<()>>>> =
    std::sync::Mutex::new(BTreeMap::new());

/// The write lock shared by every `Database` of this process on `path`.
fn sqlite_writer(path: &Path) -> Arc<Mutex<()>> {
    let mut writers = SQLITE_WRITERS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    writers.retain(|_, lock| lock.strong_count() > 0);
    if let Some(lock) = writers.get(path).and_then(Weak::upgrade) {
        return lock;
    }
    let lock = Arc::new(Mutex::new(()));
    writers.insert(path.to_owned(), Arc::downgrade(&lock));
    lock
}

/// The runtime of this process's SQLite writes (see the module docs): one
/// thread that runs nothing else, started on first use.
fn writer_runtime() -> &'static tokio::runtime::Handle {
    static WRITER: std::sync::OnceLock<tokio::runtime::Handle> = std::sync::OnceLock::new();
    WRITER.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread runtime with default settings builds");
        let handle = runtime.handle().clone();
        std::thread::Builder::new()
            .name("sqlite-writer".to_owned())
            .spawn(move || runtime.block_on(std::future::pending::<()>()))
            .expect("the SQLite writer thread starts");
        handle
    })
}

/// A writer's turn (see [`Database::write_lock`]); `None` on PostgreSQL.
pub type Turn = Option<tokio::sync::OwnedMutexGuard<()>>;

/// Which database engine a [`Database`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite (a file, or memory).
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// An open connection pool, cheap to clone (clones share the pool).
#[derive(Clone)]
pub struct Database {
    pool: AnyPool,
    backend: Backend,
    location: Location,
    // For an in-memory database: the connection that keeps it alive (see the
    // module docs). Never used for queries.
    _keeper: Option<Arc<Mutex<AnyConnection>>>,
    /// SQLite's one writer at a time, shared in this process (none for
    /// PostgreSQL, which has row locks).
    writer: Option<Arc<Mutex<()>>>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("backend", &self.backend)
            .field("location", &self.location.to_string())
            .field("pool_size", &self.pool.size())
            .finish_non_exhaustive()
    }
}

impl Database {
    /// Opens the pool `config` describes (and, for SQLite, creates the file).
    /// Does not migrate: call [`Database::migrate`].
    pub async fn connect(config: &StoreConfig) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let location = config.location.clone();
        let mut writer = None;
        let (backend, url, keeper) = match &location {
            Location::Postgres(url) => (Backend::Postgres, url.expose().to_owned(), None),
            Location::SqliteFile(path) => {
                let path = prepare_sqlite_file(path, &location).await?;
                writer = Some(sqlite_writer(&path));
                let url = SqliteConnectOptions::new()
                    .filename(&path)
                    .to_url_lossy()
                    .to_string();
                (Backend::Sqlite, url, None)
            }
            Location::SqliteMemory => {
                let n = MEMORY_DATABASES.fetch_add(1, Ordering::Relaxed);
                let id = std::process::id();
                let url = format!("sqlite:file:boutique-memory-{id}-{n}?mode=memory&cache=shared");
                let keeper = AnyConnection::connect(&url)
                    .await
                    .map_err(|e| connect_error(&location, &e, &url))?;
                writer = Some(Arc::new(Mutex::new(())));
                (Backend::Sqlite, url, Some(Arc::new(Mutex::new(keeper))))
            }
        };
        let options =
            AnyConnectOptions::from_str(&url).map_err(|e| connect_error(&location, &e, &url))?;
        let mut pool = AnyPoolOptions::new()
            .max_connections(config.max_connections)
            .acquire_timeout(config.acquire_timeout)
            // The check before each use is a round trip to the connection's
            // thread on SQLite, where a connection to a file cannot go stale;
            // a PostgreSQL connection can (a restarted server), so it is
            // checked there.
            .test_before_acquire(backend == Backend::Postgres);
        if backend == Backend::Sqlite {
            pool = pool.after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    conn.execute(BUSY_TIMEOUT_PRAGMA).await?;
                    Ok(())
                })
            });
        }
        let pool = pool
            .connect_with(options)
            .await
            .map_err(|e| connect_error(&location, &e, &url))?;
        tracing::info!(database = %location, "Opened the database");
        Ok(Self {
            pool,
            backend,
            location,
            _keeper: keeper,
            writer,
        })
    }

    /// Applies the embedded migrations that this database has not seen yet, in
    /// order, each in its own transaction. Safe to run on every start: applied
    /// migrations are skipped (and checked against their recorded checksum).
    /// On PostgreSQL concurrent runs (several replicas starting) take turns.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(StoreError::Migrate)?;
        tracing::info!(database = %self.location, "Database migrations applied");
        Ok(())
    }

    /// The versions of the embedded migrations, oldest first.
    pub fn migration_versions() -> Vec<i64> {
        MIGRATOR.iter().map(|m| m.version).collect()
    }

    /// The pool, for repositories and for queries of your own (portable SQL
    /// only: the same text runs on SQLite and PostgreSQL).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Waits for this process's turn to write (SQLite: one writer at a time,
    /// see the module docs); `None` on PostgreSQL, where writers need no turn.
    /// Hold the guard for the whole write transaction.
    pub async fn write_lock(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match &self.writer {
            Some(lock) => Some(lock.clone().lock_owned().await),
            None => None,
        }
    }

    /// A write transaction, and this process's turn to write (SQLite; hold it
    /// until the commit). On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`): a transaction that reads and then writes would otherwise
    /// fail at once when another writer got in between, since SQLite cannot
    /// wait out a lock upgrade. `action` names the work in errors.
    pub async fn begin_write(
        &self,
        action: &'static str,
    ) -> Result<(Turn, sqlx::Transaction<'static, sqlx::Any>), StoreError> {
        let turn = self.write_lock().await;
        let begun = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        };
        Ok((turn, begun.map_err(StoreError::query(action))?))
    }

    /// Runs `job`, a whole write (take the turn, write, commit). On SQLite it
    /// runs on the writer thread (see the module docs), to its end even if the
    /// caller stops waiting; on PostgreSQL, where writers need no turn, in
    /// place.
    pub async fn write<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        F: Future<Output = Result<T, StoreError>> + Send + 'static,
        T: Send + 'static,
    {
        if self.writer.is_none() {
            return job.await;
        }
        writer_runtime()
            .spawn(job)
            .await
            .map_err(|_| StoreError::corrupt("write", "the write task failed"))?
    }

    /// Which engine this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Where the data is (displays with the password redacted).
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Closes the pool, waiting for connections in use to be returned. Clones
    /// of this `Database` can no longer query. An in-memory database lives on
    /// until the last clone is dropped.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Creates the directory and the file, switches the file to WAL, and returns
/// its absolute path (so the URL built from it cannot be misread as a host).
async fn prepare_sqlite_file(path: &Path, location: &Location) -> Result<PathBuf, StoreError> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|source| StoreError::DataDir {
                path: dir.to_owned(),
                source,
            })?;
    }
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(SQLITE_BUSY_TIMEOUT);
    let conn = options
        .connect()
        .await
        .map_err(|e| connect_error(location, &e, ""))?;
    conn.close()
        .await
        .map_err(|e| connect_error(location, &e, ""))?;
    std::path::absolute(path).map_err(|source| StoreError::DataDir {
        path: path.to_owned(),
        source,
    })
}

fn connect_error(location: &Location, error: &sqlx::Error, url: &str) -> StoreError {
    StoreError::Connect {
        location: location.to_string(),
        source: Scrubbed::new(error, url),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busy_timeout_pragma_matches_the_constant() {
        let ms = SQLITE_BUSY_TIMEOUT.as_millis();
        assert_eq!(BUSY_TIMEOUT_PRAGMA, format!("PRAGMA busy_timeout = {ms}"));
    }
}
