//! The policy of one dependency, read from the environment.
//!
//! Every setting has a shop-wide form, `RESILIENCE_<SETTING>`, and a
//! per-dependency form, `RESILIENCE_<PEER>_<SETTING>` (the peer's directory
//! name in capitals: `RESILIENCE_CART_RETRIES`), which wins. Values are
//! checked once at start-up; a bad one is a [`ConfigError`] naming the
//! variable, so the process exits with code 64. `RESILIENCE=off` (or
//! `RESILIENCE_<PEER>=off`) takes the whole guard out of the channel, for
//! measuring what the policies cost.

use std::time::Duration;

use crate::config::{ConfigError, Env, parse_flag, parse_go_duration};

/// The settings, as they follow `RESILIENCE_[<PEER>_]`.
pub const SETTINGS: [&str; 5] = [
    "MAX_CONCURRENCY",
    "BREAKER_FAILURES",
    "BREAKER_OPEN_FOR",
    "RETRIES",
    "RETRY_BACKOFF",
];

/// How calls to one dependency are guarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Whether calls go through the guard at all (`RESILIENCE`, on by
    /// default): off, they go straight to the channel, with no bulkhead,
    /// breaker, retries or resending, as before the policies existed.
    pub enabled: bool,
    /// Calls in flight at most; one more is refused at once with
    /// `RESOURCE_EXHAUSTED` (`MAX_CONCURRENCY`).
    pub max_concurrency: usize,
    /// Consecutive failures that open the breaker; 0 turns it off
    /// (`BREAKER_FAILURES`).
    pub breaker_failures: u32,
    /// How long an open breaker refuses calls before it lets one probe
    /// through (`BREAKER_OPEN_FOR`).
    pub breaker_open_for: Duration,
    /// Retries of an idempotent call at most, within the caller's deadline
    /// and the dependency's retry budget; 0 turns them off (`RETRIES`).
    pub retries: u32,
    /// The first retry's backoff; each later one doubles it, and each is
    /// jittered to between half and all of it (`RETRY_BACKOFF`).
    pub retry_backoff: Duration,
}

impl Default for Policy {
    /// Sensible for a shop on loopback, where a healthy call takes well under
    /// a millisecond: a thousand calls in flight per dependency is far past
    /// healthy load (and matches the channel's own buffer), five failures in a
    /// row are not bad luck, and a second open costs a dead dependency one
    /// probe per second while letting the shop recover a second after it does.
    fn default() -> Self {
        Self {
            enabled: true,
            max_concurrency: 1000,
            breaker_failures: 5,
            breaker_open_for: Duration::from_secs(1),
            retries: 2,
            retry_backoff: Duration::from_millis(25),
        }
    }
}

/// Most calls in flight accepted for `MAX_CONCURRENCY`.
const MAX_CONCURRENCY_LIMIT: usize = 1_000_000;
/// Longest `BREAKER_OPEN_FOR`: longer would hide a recovered dependency.
const MAX_OPEN_FOR: Duration = Duration::from_secs(600);
/// Most `RETRIES`: more would only multiply load on a struggling dependency.
const MAX_RETRIES: u32 = 10;
/// Longest `RETRY_BACKOFF`.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

impl Policy {
    /// The policy for calls to `peer` (a directory name), from the defaults,
    /// then `RESILIENCE_<SETTING>`, then `RESILIENCE_<PEER>_<SETTING>`.
    pub fn from_env(env: &Env, peer: &str) -> Result<Self, ConfigError> {
        let mut policy = Self::default();
        let peer = peer.to_ascii_uppercase().replace('-', "_");
        for prefix in ["RESILIENCE_".to_owned(), format!("RESILIENCE_{peer}_")] {
            let var = |setting: &str| format!("{prefix}{setting}");
            if let Some(enabled) = env.parse_with(prefix.trim_end_matches('_'), parse_flag)? {
                policy.enabled = enabled;
            }
            if let Some(value) = env.parse_with(&var("MAX_CONCURRENCY"), |v| {
                parse_count(v, 1, MAX_CONCURRENCY_LIMIT)
            })? {
                policy.max_concurrency = value;
            }
            if let Some(value) =
                env.parse_with(&var("BREAKER_FAILURES"), |v| parse_count(v, 0, 1000))?
            {
                policy.breaker_failures = value as u32;
            }
            if let Some(value) = env.parse_with(&var("BREAKER_OPEN_FOR"), |v| {
                parse_duration(v, Duration::from_millis(1), MAX_OPEN_FOR)
            })? {
                policy.breaker_open_for = value;
            }
            if let Some(value) =
                env.parse_with(&var("RETRIES"), |v| parse_count(v, 0, MAX_RETRIES as usize))?
            {
                policy.retries = value as u32;
            }
            if let Some(value) = env.parse_with(&var("RETRY_BACKOFF"), |v| {
                parse_duration(v, Duration::from_millis(1), MAX_BACKOFF)
            })? {
                policy.retry_backoff = value;
            }
        }
        Ok(policy)
    }

    /// No limits, no breaker, no retries: for channels made outside the
    /// directory (tests of other layers).
    pub fn unguarded() -> Self {
        Self {
            max_concurrency: tokio::sync::Semaphore::MAX_PERMITS,
            breaker_failures: 0,
            retries: 0,
            ..Self::default()
        }
    }
}

/// A whole number from `min` to `max`.
fn parse_count(value: &str, min: usize, max: usize) -> Result<usize, String> {
    let count: usize = value
        .parse()
        .map_err(|_| format!("expected a whole number from {min} to {max}"))?;
    if !(min..=max).contains(&count) {
        return Err(format!("expected a whole number from {min} to {max}"));
    }
    Ok(count)
}

/// A Go duration from `min` to `max`.
fn parse_duration(value: &str, min: Duration, max: Duration) -> Result<Duration, String> {
    let duration = parse_go_duration(value)?;
    if duration < min || duration > max {
        return Err(format!("expected a duration from {min:?} to {max:?}"));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_then_shop_wide_then_per_dependency() {
        assert_eq!(
            Policy::from_env(&Env::default(), "cart").unwrap(),
            Policy::default()
        );
        let env = Env::from_pairs([
            ("RESILIENCE_RETRIES", "1"),
            ("RESILIENCE_CART_RETRIES", "0"),
            ("RESILIENCE_CART_MAX_CONCURRENCY", "8"),
            ("RESILIENCE_BREAKER_OPEN_FOR", "250ms"),
            ("RESILIENCE_CATALOG_BREAKER_FAILURES", "0"),
            ("RESILIENCE_CATALOG_RETRY_BACKOFF", "10ms"),
        ]);
        let cart = Policy::from_env(&env, "cart").unwrap();
        assert_eq!(cart.retries, 0);
        assert_eq!(cart.max_concurrency, 8);
        assert_eq!(cart.breaker_open_for, Duration::from_millis(250));
        assert_eq!(cart.breaker_failures, 5);
        assert!(cart.enabled);
        let catalog = Policy::from_env(&env, "catalog").unwrap();
        assert_eq!(catalog.retries, 1);
        assert_eq!(catalog.max_concurrency, 1000);
        assert_eq!(catalog.breaker_failures, 0);
        assert_eq!(catalog.retry_backoff, Duration::from_millis(10));
    }

    #[test]
    fn the_guard_is_switched_off_shop_wide_or_per_dependency() {
        let env = Env::from_pairs([("RESILIENCE", "off"), ("RESILIENCE_CART", "on")]);
        assert!(Policy::from_env(&env, "cart").unwrap().enabled);
        assert!(!Policy::from_env(&env, "catalog").unwrap().enabled);
        let env = Env::from_pairs([("RESILIENCE_AD", "no")]);
        assert!(!Policy::from_env(&env, "ad").unwrap().enabled);
        assert!(Policy::from_env(&env, "cart").unwrap().enabled);
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        for (var, value) in [
            ("RESILIENCE_CART_MAX_CONCURRENCY", "0"),
            ("RESILIENCE_CART_MAX_CONCURRENCY", "many"),
            ("RESILIENCE_MAX_CONCURRENCY", "-1"),
            ("RESILIENCE_CART_BREAKER_FAILURES", "1001"),
            ("RESILIENCE_CART_BREAKER_OPEN_FOR", "5"),
            ("RESILIENCE_CART_BREAKER_OPEN_FOR", "0"),
            ("RESILIENCE_BREAKER_OPEN_FOR", "1h"),
            ("RESILIENCE_CART_RETRIES", "11"),
            ("RESILIENCE_RETRIES", "two"),
            ("RESILIENCE_CART_RETRY_BACKOFF", "1m"),
            ("RESILIENCE", "maybe"),
            ("RESILIENCE_CART", "2"),
        ] {
            let env = Env::from_pairs([(var, value)]);
            let error = Policy::from_env(&env, "cart").unwrap_err();
            assert_eq!(error.var, var, "{value}");
            assert!(error.to_string().contains(value), "{error}");
        }
        // Another dependency's bad value is its own business.
        let env = Env::from_pairs([("RESILIENCE_CART_RETRIES", "x")]);
        assert!(Policy::from_env(&env, "catalog").is_ok());
    }
}
