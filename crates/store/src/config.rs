//! Where the database lives and how its pool behaves, read once from the environment.
//!
//! `DATABASE_URL` picks the backend; without it the shop keeps an SQLite file in a
//! data directory, so a plain `cargo run` keeps its orders across restarts. A bad
//! value is a [`ConfigError`] naming the variable (the binary exits 64), and the
//! value it shows has its password replaced (see [`crate::redact`]).

use std::{fmt, path::PathBuf, str::FromStr, time::Duration};

use boutique_platform::{
    Env,
    config::{ConfigError, parse_go_duration},
};

use crate::redact::{redact_url, scrub};

/// The variable naming the database: `postgres://…`, `sqlite://PATH` or `sqlite::memory:`.
pub const DATABASE_URL_VAR: &str = "DATABASE_URL";
/// The directory of the default SQLite file, used when `DATABASE_URL` is unset.
pub const DATA_DIR_VAR: &str = "DATA_DIR";
/// The largest number of open connections in the pool.
pub const MAX_CONNECTIONS_VAR: &str = "DATABASE_MAX_CONNECTIONS";
/// How long a query waits for a free connection (a Go duration) before failing.
pub const ACQUIRE_TIMEOUT_VAR: &str = "DATABASE_ACQUIRE_TIMEOUT";

/// Default pool size: enough for one service's concurrent requests on two cores,
/// and ten replicas of it stay well under PostgreSQL's default `max_connections` (100).
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;
/// Default wait for a connection: long enough to ride out a burst, short enough
/// that a caller sees an error before its own deadline.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// The file name of the default database inside the data directory.
pub const DATABASE_FILE: &str = "boutique.db";

/// How to reach the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// Which database, and where.
    pub location: Location,
    /// Pool size (at least 1).
    pub max_connections: u32,
    /// How long a query waits for a free connection.
    pub acquire_timeout: Duration,
}

/// Which database to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A PostgreSQL server (`postgres://` or `postgresql://`).
    Postgres(DatabaseUrl),
    /// An SQLite file, created (with its directory) if missing.
    SqliteFile(PathBuf),
    /// An SQLite database in memory, private to one [`crate::Database`] and gone
    /// when it is dropped: for tests and demos.
    SqliteMemory,
}

impl StoreConfig {
    /// Reads `DATABASE_URL`, `DATA_DIR`, `DATABASE_MAX_CONNECTIONS` and
    /// `DATABASE_ACQUIRE_TIMEOUT`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let location = match env.get(DATABASE_URL_VAR) {
            Some(url) => Location::parse(url)
                .map_err(|reason| ConfigError::new(DATABASE_URL_VAR, &redact_url(url), reason))?,
            None => Location::SqliteFile(default_data_dir(env).join(DATABASE_FILE)),
        };
        let max_connections = env
            .parse_with(MAX_CONNECTIONS_VAR, parse_max_connections)?
            .unwrap_or(DEFAULT_MAX_CONNECTIONS);
        let acquire_timeout = env
            .parse_with(ACQUIRE_TIMEOUT_VAR, parse_acquire_timeout)?
            .unwrap_or(DEFAULT_ACQUIRE_TIMEOUT);
        Ok(Self {
            location,
            max_connections,
            acquire_timeout,
        })
    }

    /// A private in-memory SQLite database with the default pool settings.
    pub fn memory() -> Self {
        Self::at(Location::SqliteMemory)
    }

    /// `location` with the default pool settings.
    pub fn at(location: Location) -> Self {
        Self {
            location,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
        }
    }
}

impl Location {
    /// Parses a `DATABASE_URL` value. The error says what is accepted and never
    /// repeats the password.
    pub fn parse(url: &str) -> Result<Self, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return match sqlx::postgres::PgConnectOptions::from_str(url) {
                Ok(_) => Ok(Self::Postgres(DatabaseUrl(url.to_owned()))),
                // The parser's message is about the URL's shape; scrub it anyway,
                // since it is not ours to promise it never quotes the input.
                Err(e) => Err(format!(
                    "not a valid PostgreSQL URL: {}",
                    scrub(&e.to_string(), url)
                )),
            };
        }
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.contains('?') {
                return Err(
                    "SQLite URL options are not supported: the store sets its own \
                     (WAL journal, busy timeout, foreign keys)"
                        .to_owned(),
                );
            }
            return match path {
                ":memory:" => Ok(Self::SqliteMemory),
                "" => Err(
                    "an SQLite URL needs a file path (sqlite://data/boutique.db, \
                     sqlite:///var/lib/boutique/boutique.db) or sqlite::memory:"
                        .to_owned(),
                ),
                path => Ok(Self::SqliteFile(PathBuf::from(path))),
            };
        }
        Err(
            "expected postgres://…, postgresql://…, sqlite://PATH or sqlite::memory: \
             (other databases are not supported)"
                .to_owned(),
        )
    }
}

/// Says where the data is, with any password redacted: fit for a start-up log line.
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Postgres(url) => write!(f, "PostgreSQL at {url}"),
            Self::SqliteFile(path) => write!(f, "SQLite file {}", path.display()),
            Self::SqliteMemory => f.write_str("SQLite in memory (lost at exit)"),
        }
    }
}

/// A database URL that may hold a password. `Debug` and `Display` redact it;
/// only [`DatabaseUrl::expose`] gives the real text, for the driver.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// Wraps `url` (not validated; [`Location::parse`] validates).
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The URL with its password, for the driver only. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_url(&self.0))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({:?})", redact_url(&self.0))
    }
}

/// Where the default SQLite file lives when `DATABASE_URL` is unset.
///
/// `DATA_DIR` if set. Otherwise the XDG data directory (`$XDG_DATA_HOME/boutique`,
/// or `~/.local/share/boutique`): the place Linux tools keep per-user data, so
/// `cargo run` finds the same orders from any working directory, and the data
/// stays out of the source checkout (no stray files for `git status`, nothing
/// that `cargo clean` or a fresh clone would take). Without a home directory
/// (a bare container), `./data`. Containers should set `DATA_DIR` to a volume.
pub fn default_data_dir(env: &Env) -> PathBuf {
    if let Some(dir) = env.get(DATA_DIR_VAR) {
        return PathBuf::from(dir);
    }
    // The XDG spec says relative values are invalid and must be ignored.
    let absolute = |name: &str| env.get(name).map(PathBuf::from).filter(|p| p.is_absolute());
    if let Some(xdg) = absolute("XDG_DATA_HOME") {
        return xdg.join("boutique");
    }
    if let Some(home) = absolute("HOME") {
        return home.join(".local/share/boutique");
    }
    PathBuf::from("data")
}

fn parse_max_connections(value: &str) -> Result<u32, String> {
    match value.parse::<u32>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(_) => Err("expected a whole number of connections, at least 1".to_owned()),
    }
}

fn parse_acquire_timeout(value: &str) -> Result<Duration, String> {
    let timeout = parse_go_duration(value)?;
    if timeout.is_zero() {
        return Err("must be longer than zero (every query would fail)".to_owned());
    }
    Ok(timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<StoreConfig, ConfigError> {
        StoreConfig::from_env(&Env::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn defaults_to_sqlite_in_the_data_directory() {
        let cfg = config(&[("DATA_DIR", "/srv/shop")]).unwrap();
        assert_eq!(
            cfg.location,
            Location::SqliteFile("/srv/shop/boutique.db".into())
        );
        assert_eq!(cfg.max_connections, DEFAULT_MAX_CONNECTIONS);
        assert_eq!(cfg.acquire_timeout, DEFAULT_ACQUIRE_TIMEOUT);

        let xdg = Env::from_pairs([("XDG_DATA_HOME", "/x"), ("HOME", "/home/a")]);
        assert_eq!(default_data_dir(&xdg), PathBuf::from("/x/boutique"));
        let home = Env::from_pairs([("XDG_DATA_HOME", "rel"), ("HOME", "/home/a")]);
        assert_eq!(
            default_data_dir(&home),
            PathBuf::from("/home/a/.local/share/boutique")
        );
        assert_eq!(default_data_dir(&Env::default()), PathBuf::from("data"));
    }

    #[test]
    fn reads_every_url_form() {
        let cases = [
            ("sqlite::memory:", Location::SqliteMemory),
            ("sqlite://:memory:", Location::SqliteMemory),
            ("sqlite://shop.db", Location::SqliteFile("shop.db".into())),
            ("sqlite:shop.db", Location::SqliteFile("shop.db".into())),
            (
                "sqlite:///var/lib/shop.db",
                Location::SqliteFile("/var/lib/shop.db".into()),
            ),
            (
                "postgres://u:p@db:5432/shop",
                Location::Postgres(DatabaseUrl::new("postgres://u:p@db:5432/shop")),
            ),
            (
                "postgresql://db/shop",
                Location::Postgres(DatabaseUrl::new("postgresql://db/shop")),
            ),
        ];
        for (url, want) in cases {
            assert_eq!(
                config(&[("DATABASE_URL", url)]).unwrap().location,
                want,
                "{url}"
            );
        }
    }

    #[test]
    fn reads_pool_settings() {
        let cfg = config(&[
            ("DATABASE_MAX_CONNECTIONS", "3"),
            ("DATABASE_ACQUIRE_TIMEOUT", "250ms"),
        ])
        .unwrap();
        assert_eq!(cfg.max_connections, 3);
        assert_eq!(cfg.acquire_timeout, Duration::from_millis(250));
        for (var, bad) in [
            ("DATABASE_MAX_CONNECTIONS", "0"),
            ("DATABASE_MAX_CONNECTIONS", "ten"),
            ("DATABASE_ACQUIRE_TIMEOUT", "5"),
            ("DATABASE_ACQUIRE_TIMEOUT", "0s"),
        ] {
            assert_eq!(config(&[(var, bad)]).unwrap_err().var, var, "{var}={bad}");
        }
    }

    #[test]
    fn display_and_debug_redact_the_password() {
        let location = Location::parse("postgres://shop:hunter2@db/shop").unwrap();
        let shown = format!("{location} {location:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("postgres://shop:***@db/shop"), "{shown}");
    }
}
