//! The accounts service's settings, read once from the environment.

use std::time::Duration;

use boutique_platform::{ConfigError, Env, Listen, Peers, config::parse_go_duration};
use boutique_store::StoreConfig;

use crate::{keys::KeySet, throttle::ThrottleConfig};

/// The token keys, `kid:base64key,…` (the first signs; all verify).
pub const TOKEN_KEYS_VAR: &str = "ACCOUNTS_TOKEN_KEYS";
/// A file holding the token keys in the same format (a mounted Secret).
pub const TOKEN_KEYS_FILE_VAR: &str = "ACCOUNTS_TOKEN_KEYS_FILE";
/// How long a token is valid, a Go duration.
pub const TOKEN_LIFETIME_VAR: &str = "ACCOUNTS_TOKEN_LIFETIME";
/// How far back failed password checks count, a Go duration.
pub const SIGN_IN_WINDOW_VAR: &str = "ACCOUNTS_SIGN_IN_WINDOW";
/// Failed checks of one email allowed in the window.
pub const MAX_FAILURES_PER_EMAIL_VAR: &str = "ACCOUNTS_MAX_FAILURES_PER_EMAIL";
/// Failed checks from one client address allowed in the window.
pub const MAX_FAILURES_PER_ADDRESS_VAR: &str = "ACCOUNTS_MAX_FAILURES_PER_ADDRESS";
/// Password hashes computed at once.
pub const HASH_CONCURRENCY_VAR: &str = "ACCOUNTS_HASH_CONCURRENCY";
/// Password checks allowed to wait for a hash slot.
pub const HASH_QUEUE_VAR: &str = "ACCOUNTS_HASH_QUEUE";

/// How long a token is valid by default: a week.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);
/// Hashes at once by default: two, so sign-ins never take every core.
pub const DEFAULT_HASH_CONCURRENCY: usize = 2;
/// Checks waiting for a slot by default (at ~30 ms a hash, about half a
/// second of work for two slots).
pub const DEFAULT_HASH_QUEUE: usize = 32;

/// Stands for a secret's value in an error message.
const HIDDEN: &str = "(hidden)";

/// Accounts settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen (`LISTEN_ADDR`, `PORT`, `REUSE_PORT`).
    pub listen: Listen,
    /// The orders service (`ORDERS_SERVICE_ADDR`), which anonymises a deleted
    /// account's orders.
    pub peers: Peers,
    /// The database (`DATABASE_URL`, `DATA_DIR`, pool settings).
    pub database: StoreConfig,
    /// The token keys (`ACCOUNTS_TOKEN_KEYS` or `ACCOUNTS_TOKEN_KEYS_FILE`);
    /// `None`: the key kept in the data directory, or one per process.
    pub keys: Option<KeySet>,
    /// How long a token is valid (`ACCOUNTS_TOKEN_LIFETIME`).
    pub token_lifetime: Duration,
    /// How failed password checks are limited.
    pub throttle: ThrottleConfig,
    /// Password hashes computed at once (`ACCOUNTS_HASH_CONCURRENCY`).
    pub hash_concurrency: usize,
    /// Checks allowed to wait for a hash slot (`ACCOUNTS_HASH_QUEUE`).
    pub hash_queue: usize,
}

impl Config {
    /// Reads every setting; a bad one is an error naming its variable.
    pub fn read(env: &Env) -> Result<Self, ConfigError> {
        let defaults = ThrottleConfig::default();
        Ok(Self {
            listen: env.listen(crate::SERVICE.port)?,
            peers: Peers::from_env(env, crate::SERVICE)?,
            database: StoreConfig::from_env(env)?,
            keys: keys(env)?,
            token_lifetime: env
                .parse_with(TOKEN_LIFETIME_VAR, positive_duration)?
                .unwrap_or(DEFAULT_TOKEN_LIFETIME),
            throttle: ThrottleConfig {
                window: env
                    .parse_with(SIGN_IN_WINDOW_VAR, positive_duration)?
                    .unwrap_or(defaults.window),
                per_email: env.parse_or(MAX_FAILURES_PER_EMAIL_VAR, defaults.per_email)?,
                per_address: env.parse_or(MAX_FAILURES_PER_ADDRESS_VAR, defaults.per_address)?,
            },
            hash_concurrency: env
                .parse_with(HASH_CONCURRENCY_VAR, at_least_one)?
                .unwrap_or(DEFAULT_HASH_CONCURRENCY),
            hash_queue: env.parse_or(HASH_QUEUE_VAR, DEFAULT_HASH_QUEUE)?,
        })
    }
}

fn positive_duration(text: &str) -> Result<Duration, String> {
    let duration = parse_go_duration(text)?;
    if duration < Duration::from_secs(1) {
        return Err("must be at least 1s".to_owned());
    }
    Ok(duration)
}

fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("must be a whole number of at least 1".to_owned()),
    }
}

/// The keys from `ACCOUNTS_TOKEN_KEYS` or the file `ACCOUNTS_TOKEN_KEYS_FILE`
/// names; `None` when neither is set. Key bytes never appear in an error.
fn keys(env: &Env) -> Result<Option<KeySet>, ConfigError> {
    let (var, text) = match (env.get(TOKEN_KEYS_VAR), env.get(TOKEN_KEYS_FILE_VAR)) {
        (None, None) => return Ok(None),
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(
                TOKEN_KEYS_VAR,
                HIDDEN,
                format!("set either {TOKEN_KEYS_VAR} or {TOKEN_KEYS_FILE_VAR}, not both"),
            ));
        }
        (Some(text), None) => (TOKEN_KEYS_VAR, text.to_owned()),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                ConfigError::new(TOKEN_KEYS_FILE_VAR, path, format!("cannot read it: {e}"))
            })?;
            (TOKEN_KEYS_FILE_VAR, text)
        }
    };
    KeySet::parse(&text)
        .map(Some)
        .map_err(|reason| ConfigError::new(var, HIDDEN, reason))
}

#[cfg(test)]
mod tests {
    use base64::{Engine, engine::general_purpose::STANDARD};

    use super::*;

    fn env() -> Env {
        Env::from_pairs([
            ("DATABASE_URL", "sqlite::memory:"),
            ("ORDERS_SERVICE_ADDR", "orders:5060"),
        ])
    }

    #[test]
    fn defaults() {
        let config = Config::read(&env()).unwrap();
        assert!(config.keys.is_none());
        assert_eq!(config.token_lifetime, DEFAULT_TOKEN_LIFETIME);
        assert_eq!(config.throttle, ThrottleConfig::default());
        assert_eq!(config.listen.port(), 5080);
        assert_eq!((config.hash_concurrency, config.hash_queue), (2, 32));
        let without_orders = Env::from_pairs([("DATABASE_URL", "sqlite::memory:")]);
        assert_eq!(
            Config::read(&without_orders).unwrap_err().var,
            "ORDERS_SERVICE_ADDR"
        );
    }

    #[test]
    fn keys_come_from_the_variable_or_a_file_never_both() {
        let text = format!("a:{}", STANDARD.encode([1; 32]));
        let direct = Config::read(&env().with(TOKEN_KEYS_VAR, text.clone())).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("keys");
        std::fs::write(&file, format!("{text}\n")).unwrap();
        let path = file.display().to_string();
        let from_file = Config::read(&env().with(TOKEN_KEYS_FILE_VAR, path.clone())).unwrap();
        assert_eq!(direct.keys, from_file.keys);
        let both = env()
            .with(TOKEN_KEYS_VAR, text)
            .with(TOKEN_KEYS_FILE_VAR, path);
        assert_eq!(Config::read(&both).unwrap_err().var, TOKEN_KEYS_VAR);
    }

    #[test]
    fn bad_values_name_their_variable_and_hide_keys() {
        let short = STANDARD.encode([1; 16]);
        let error = Config::read(&env().with(TOKEN_KEYS_VAR, format!("a:{short}"))).unwrap_err();
        assert_eq!(error.var, TOKEN_KEYS_VAR);
        assert!(!error.to_string().contains(&short), "{error}");
        let missing = env().with(TOKEN_KEYS_FILE_VAR, "/nonexistent/keys");
        assert_eq!(Config::read(&missing).unwrap_err().var, TOKEN_KEYS_FILE_VAR);
        for (var, value) in [
            (TOKEN_LIFETIME_VAR, "0s"),
            (TOKEN_LIFETIME_VAR, "soon"),
            (SIGN_IN_WINDOW_VAR, "-1m"),
            (MAX_FAILURES_PER_EMAIL_VAR, "many"),
            (HASH_CONCURRENCY_VAR, "0"),
        ] {
            let error = Config::read(&env().with(var, value)).unwrap_err();
            assert_eq!(error.var, var, "{value}");
        }
    }
}
