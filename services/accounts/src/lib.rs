//! The accounts service (`boutique.accounts.v1.AccountsService`): shoppers'
//! accounts, their passwords and their sign-in tokens.
//!
//! Ours, not upstream's. The storefront signs shoppers up and in through it
//! and asks it who a token belongs to. The service owns the `account*`
//! tables of the database (see `boutique_store::accounts`). What it keeps:
//!
//! - **Passwords** are Argon2id hashes with OWASP's minimum cost (m=19456
//!   KiB, t=2, p=1), computed at most `ACCOUNTS_HASH_CONCURRENCY` at a time
//!   off the async threads (see `hasher`); a new password has 10 to 128
//!   characters, is not one of the commonest passwords and is not the email
//!   (see `password`). No password, hash or token is ever logged.
//! - **One account per email** in any case, across replicas.
//! - **Account ids** are `acct-<uuid>`, never a bare UUID like a guest's
//!   session id, so an account can own carts and orders beside guests.
//! - **Tokens** are HS256 JWTs with a key id; several keys verify and the
//!   first signs (rotation, see `keys`). A token is refused when its
//!   signature, key, issuer or expiry is wrong, when it was signed out, when
//!   its account ended every session (sign out everywhere, password change)
//!   after it was issued, or when its account is gone.
//! - **Deleting an account keeps its orders, anonymised**: once the password
//!   is checked, the orders service (`AnonymiseOrders`) gives each of the
//!   account's orders an owner that names nobody and drops its email,
//!   address and card digits; only then is the account deleted. The orders
//!   service being down refuses the deletion (UNAVAILABLE) with nothing
//!   deleted, so an account never disappears while its orders still name it.
//! - **Sign-ins are throttled** per email and per client address, counted in
//!   the database so replicas share the counts (see `throttle`), and an
//!   unknown email gets exactly the answer, and costs the same hash, as a
//!   wrong password.
//!
//! # Environment
//!
//! | Variable | Default | Meaning |
//! |---|---|---|
//! | `PORT` | `5080` | Port to listen on. |
//! | `LISTEN_ADDR` | `0.0.0.0` | Host to listen on. |
//! | `ORDERS_SERVICE_ADDR` | required | The orders service (`host:port`), which anonymises a deleted account's orders. Connected lazily. |
//! | `DATABASE_URL` | unset: an SQLite file in `DATA_DIR` | See `boutique_store` (`DATA_DIR` and the pool settings too). |
//! | `ACCOUNTS_TOKEN_KEYS` or `ACCOUNTS_TOKEN_KEYS_FILE` | see below | Token keys, `kid:base64key` separated by commas or newlines, each at least 32 bytes; the first signs, all verify. The file form suits a mounted Secret. |
//! | `ACCOUNTS_TOKEN_LIFETIME` | `168h` | How long a token is valid. |
//! | `ACCOUNTS_SIGN_IN_WINDOW` | `15m` | How far back failed password checks count. |
//! | `ACCOUNTS_MAX_FAILURES_PER_EMAIL` | `5` | Failures of one email in the window before checks are refused (0: no limit). |
//! | `ACCOUNTS_MAX_FAILURES_PER_ADDRESS` | `20` | Failures from one client address in the window (0: no limit). |
//! | `ACCOUNTS_HASH_CONCURRENCY` | `2` | Password hashes computed at once. |
//! | `ACCOUNTS_HASH_QUEUE` | `32` | Password checks that may wait for a slot; more are answered RESOURCE_EXHAUSTED (`OVERLOADED`). |
//!
//! Without configured keys the service keeps one in the data directory, in
//! `accounts-token.keys` (mode 0600) beside the SQLite file, so tokens
//! survive a restart; with an in-memory database it draws a key per process,
//! and with PostgreSQL too (logged as a warning: replicas must then share
//! `ACCOUNTS_TOKEN_KEYS`, or each refuses the others' tokens).

mod config;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod handlers;
mod hasher;
mod input;
pub mod keys;
mod metrics;
mod password;
mod throttle;
mod tokens;

use std::{sync::Arc, time::Duration};

use boutique_platform::{App, ConfigError, Env, GrpcServer, ServerError, ServiceConfig, Telemetry};
use boutique_proto::{
    boutique::{
        accounts::v1::accounts_service_server::AccountsServiceServer,
        orders::v1::order_service_client::OrderServiceClient,
    },
    directory::{self, ORDERS},
};
use boutique_store::{AccountBook, Database, Location, StoreConfig};
use tokio_util::sync::CancellationToken;

pub use config::*;
pub use keys::{KeySet, TokenKey};
pub use password::{MAX_CHARS as MAX_PASSWORD_CHARS, MIN_CHARS as MIN_PASSWORD_CHARS};
pub use throttle::ThrottleConfig;
pub use tokens::{Claims, ISSUER};

/// The service's directory entry.
const SERVICE: &directory::ServiceInfo = &directory::ACCOUNTS;

/// How often expired revocations and old failures are pruned.
const PRUNE_INTERVAL: Duration = Duration::from_secs(60);

impl ServiceConfig for Config {
    const SERVICE: &'static directory::ServiceInfo = SERVICE;

    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Self::read(env)
    }

    async fn build(self, telemetry: Telemetry) -> Result<App, ServerError> {
        let keys = match self.keys {
            Some(keys) => keys,
            None => default_keys(&self.database)?,
        };
        tracing::info!(kids = ?keys.kids(), "Tokens are signed with the first key; all verify.");
        let book = open(&self.database).await?;
        let hasher = hasher::Hasher::new(self.hash_concurrency, self.hash_queue);
        let random: [u8; 16] = rand::random();
        let dummy_hash = hasher
            .hash(random.iter().map(|b| format!("{b:02x}")).collect())
            .await
            .map_err(|e| ServerError::Setup {
                what: "the password hasher",
                source: e.into(),
            })?;
        let throttle = throttle::Throttle::new(book.clone(), self.throttle);
        let handler = handlers::Accounts {
            book: book.clone(),
            hasher,
            tokens: tokens::Tokens::new(keys, self.token_lifetime),
            throttle: throttle.clone(),
            metrics: metrics::AccountsMetrics::register(&telemetry),
            dummy_hash: Arc::from(dummy_hash),
            orders: OrderServiceClient::new(self.peers.channel(&ORDERS, &telemetry)?),
        };
        let stop = CancellationToken::new();
        let pruning = tokio::spawn(prune(book, throttle.window_ms(), stop.clone()));
        let server = GrpcServer::bind(&telemetry, self.listen)
            .await?
            .add_service(AccountsServiceServer::new(handler));
        let addr = server.local_addr();
        Ok(App::new(addr, move |shutdown| async move {
            let served = server.run_until(shutdown).await;
            stop.cancel();
            let _ = pruning.await;
            served
        }))
    }
}

/// The keys when none are configured: kept beside the SQLite file (the data
/// directory), else drawn for this process.
fn default_keys(database: &StoreConfig) -> Result<KeySet, ServerError> {
    let dir = match &database.location {
        Location::SqliteFile(path) => path.parent().map(std::path::Path::to_path_buf),
        Location::SqliteMemory => None,
        Location::Postgres(_) => {
            tracing::warn!(
                "{TOKEN_KEYS_VAR} is not set: tokens are signed with a key drawn for this process, \
                 so they end with it and other replicas refuse them."
            );
            None
        }
    };
    match dir {
        Some(dir) => keys::from_data_dir(&dir).map_err(|reason| ServerError::Setup {
            what: "the token key",
            source: reason.into(),
        }),
        None => {
            let suffix: u32 = rand::random();
            let key = TokenKey::random(&format!("process-{suffix:08x}"));
            Ok(KeySet::new(vec![key]).expect("one key"))
        }
    }
}

/// Connects to the database and applies the migrations.
async fn open(config: &StoreConfig) -> Result<AccountBook, ServerError> {
    let setup = |source: boutique_store::StoreError| ServerError::Setup {
        what: "the account database",
        source: source.into(),
    };
    let database = Database::connect(config).await.map_err(setup)?;
    database.migrate().await.map_err(setup)?;
    tracing::info!(database = %config.location, "Accounts are kept in the database.");
    Ok(AccountBook::new(&database))
}

/// Removes expired revocations and failures older than the window, every
/// [`PRUNE_INTERVAL`] until `stop`.
async fn prune(book: AccountBook, window_ms: i64, stop: CancellationToken) {
    loop {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        match book.prune(now, now.saturating_sub(window_ms)).await {
            Ok(pruned) => tracing::debug!(
                tokens = pruned.tokens,
                failures = pruned.failures,
                "Pruned the account tables."
            ),
            Err(error) => tracing::warn!(%error, "Could not prune the account tables."),
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(PRUNE_INTERVAL) => {}
        }
    }
}
