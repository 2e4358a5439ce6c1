//! Durable storage for the shop: embedded SQLite by default, PostgreSQL when
//! configured, one code path for both.
//!
//! Built on sqlx's `Any` driver: [`Database::connect`] opens an [`sqlx::AnyPool`]
//! for the backend the configuration names, and [`Database::migrate`] applies
//! the versioned migrations embedded from `crates/store/migrations` (run it at
//! start-up; it skips what is applied). Repositories hold the pool and speak
//! portable SQL only: `$1` parameters, TEXT ids, money as BIGINT units plus
//! INTEGER nanos, time as BIGINT milliseconds, ids and timestamps made in Rust
//! (no SERIAL, `now()` or JSONB), so every query runs unchanged on both engines.
//!
//! Each table belongs to one service, which alone reads and writes it through
//! its repository here: `payment_charges` ([`ChargeLedger`], the payment
//! service's idempotency ledger), the `order*` tables ([`OrderBook`], the
//! orders service's records, cart claims, idempotency keys and outbox) and the
//! `account*` tables ([`AccountBook`], the accounts service's accounts,
//! signed-out tokens and failed sign-ins) and the `rating*` tables
//! ([`RatingBook`], the ratings service's ratings, summaries and write limits),
//! and the `cart*` tables ([`CartBook`], the cart service's carts when it
//! keeps them in the database).
//!
//! # Environment
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `DATABASE_URL` | `postgres://USER:PASSWORD@HOST:PORT/DB` (or `postgresql://`) for PostgreSQL; `sqlite://PATH` (or `sqlite:PATH`, `sqlite:///ABS/PATH`) for an SQLite file; `sqlite::memory:` for a private in-memory database (tests, demos: lost at exit) | unset: SQLite file `boutique.db` in the data directory |
//! | `DATA_DIR` | directory of the default SQLite file, created if missing; ignored when `DATABASE_URL` is set | `$XDG_DATA_HOME/boutique`, else `~/.local/share/boutique`, else `./data` |
//! | `DATABASE_MAX_CONNECTIONS` | pool size, at least 1 | `10` |
//! | `DATABASE_ACQUIRE_TIMEOUT` | how long a query waits for a free connection, a Go duration (`5s`, `500ms`) | `5s` |
//!
//! Anything else in `DATABASE_URL` (another scheme, SQLite URL options, an
//! unparsable PostgreSQL URL) is a configuration error naming the variable. The
//! PostgreSQL driver also reads libpq's `PG*` variables (`PGSSLMODE`, …) for
//! what the URL leaves out. Passwords are redacted wherever a URL is shown: in
//! logs, in `Debug`/`Display`, and in errors.

pub mod accounts;
pub mod audit;
pub mod carts;
mod charges;
mod config;
mod database;
mod error;
pub mod orders;
pub mod ratings;
pub mod redact;
pub mod secret_file;

pub use accounts::AccountBook;
pub use carts::CartBook;
pub use charges::{Charge, ChargeLedger, MAX_KEY_LEN, Recorded, Settled, StoredCharge};
pub use config::{
    ACQUIRE_TIMEOUT_VAR, DATA_DIR_VAR, DATABASE_FILE, DATABASE_URL_VAR, DEFAULT_ACQUIRE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS, DatabaseUrl, Location, MAX_CONNECTIONS_VAR, StoreConfig,
    default_data_dir,
};
pub use database::{Backend, Database, SQLITE_BUSY_TIMEOUT, Turn};
pub use error::{Scrubbed, StoreError};
pub use orders::OrderBook;
pub use ratings::RatingBook;

/// Now, in milliseconds since the Unix epoch (how every table keeps time).
/// A clock set before 1970 is refused rather than stored.
pub(crate) fn now_ms() -> Result<i64, StoreError> {
    match boutique_platform::clock::now_ms() {
        0 => Err(StoreError::invalid(
            "clock",
            "the system time is before 1970",
        )),
        ms => Ok(ms),
    }
}
