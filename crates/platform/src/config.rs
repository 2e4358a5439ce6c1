//! Typed configuration from environment variables.
//!
//! The environment is read once into an [`Env`] snapshot; services parse their
//! settings from it and never touch the process environment again. Tests build
//! an `Env` from pairs instead of mutating the real environment. A bad value is
//! a [`ConfigError`] naming the variable; binaries exit with [`EXIT_CONFIG`].

use std::{
    collections::HashMap,
    fmt,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    str::FromStr,
    time::Duration,
};

use crate::listen::{Listen, REUSE_PORT_VAR};

/// The exit code for bad configuration (`EX_CONFIG`-style usage error, sysexits 64).
pub const EXIT_CONFIG: i32 = 64;

/// A setting that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {var}={value:?}: {reason}")]
pub struct ConfigError {
    /// The environment variable.
    pub var: String,
    /// Its value as given.
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}

impl ConfigError {
    /// Builds an error for `var` holding `value`.
    pub fn new(var: &str, value: &str, reason: impl fmt::Display) -> Self {
        Self {
            var: var.to_owned(),
            value: value.to_owned(),
            reason: reason.to_string(),
        }
    }
}

/// A snapshot of environment variables.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    /// Reads the process environment once. Variables that are not valid UTF-8
    /// are skipped; none of ours can be.
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    /// Builds an environment from pairs, for tests and for `boutique all`.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// Returns a copy with `name` set to `value`.
    #[must_use]
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.vars.insert(name.to_owned(), value.into());
        self
    }

    /// The trimmed value of `name`; unset and blank are the same.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// Parses `name` with `parse`, or returns `None` when it is unset.
    pub fn parse_with<T, E: fmt::Display>(
        &self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<Option<T>, ConfigError> {
        self.get(name)
            .map(|value| parse(value).map_err(|e| ConfigError::new(name, value, e)))
            .transpose()
    }

    /// Parses `name` with [`FromStr`], or returns `default` when it is unset.
    pub fn parse_or<T>(&self, name: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        Ok(self.parse_with(name, str::parse)?.unwrap_or(default))
    }

    /// A boolean flag: `1/true/yes/on` or `0/false/no/off`, any case.
    pub fn flag(&self, name: &str) -> Result<bool, ConfigError> {
        Ok(self.parse_with(name, parse_flag)?.unwrap_or(false))
    }

    /// The address a server listens on: host from `LISTEN_ADDR` (default all
    /// interfaces, as in a container) and port from `PORT`.
    pub fn listen_addr(&self, default_port: u16) -> Result<SocketAddr, ConfigError> {
        let ip = self.parse_or("LISTEN_ADDR", IpAddr::V4(Ipv4Addr::UNSPECIFIED))?;
        let port = self.parse_or("PORT", default_port)?;
        Ok(SocketAddr::new(ip, port))
    }

    /// Where a server listens ([`Env::listen_addr`]) and whether it shares
    /// its port with another process (`REUSE_PORT`, off by default; refused
    /// with `PORT=0`). See [`crate::listen`].
    pub fn listen(&self, default_port: u16) -> Result<Listen, ConfigError> {
        let listen = Listen {
            addr: self.listen_addr(default_port)?,
            reuse_port: self.flag(REUSE_PORT_VAR)?,
        };
        listen.validate(self.get(REUSE_PORT_VAR).unwrap_or_default())
    }
}

/// `1/true/yes/on` or `0/false/no/off`, any case.
pub fn parse_flag(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err("expected true/false or 1/0".to_owned()),
    }
}

/// Accepts `host:port` or `http://host:port` and returns `host:port`.
pub fn parse_service_addr(value: &str) -> Result<String, String> {
    let bare = value
        .strip_prefix("http://")
        .unwrap_or(value)
        .trim_end_matches('/');
    let (host, port) = bare.rsplit_once(':').ok_or("expected host:port")?;
    if host.is_empty() || host.contains('/') {
        return Err("expected host:port".to_owned());
    }
    port.parse::<u16>()
        .map_err(|_| format!("port {port:?} is not a number from 0 to 65535"))?;
    Ok(bare.to_owned())
}

/// The variable setting how long a service reuses answers of its peers.
pub const CACHE_TTL_VAR: &str = "CACHE_TTL";

/// The longest `CACHE_TTL` accepted: caches absorb load, they must not hide
/// catalog or rate changes, and a longer value is more likely a typo (`5m` for `5s`).
pub const MAX_CACHE_TTL: Duration = Duration::from_secs(60);

/// Parses `CACHE_TTL`: a Go duration up to [`MAX_CACHE_TTL`]; zero turns caching off.
pub fn parse_cache_ttl(value: &str) -> Result<Duration, String> {
    let ttl = parse_go_duration(value)?;
    if ttl > MAX_CACHE_TTL {
        return Err(format!(
            "at most {}s: a cache this long would hide catalog and rate changes",
            MAX_CACHE_TTL.as_secs()
        ));
    }
    Ok(ttl)
}

/// Parses a Go-style duration (`300ms`, `1.5s`, `2m30s`, `1h`), the format of
/// upstream settings such as `EXTRA_LATENCY`. A bare `0` is zero.
pub fn parse_go_duration(text: &str) -> Result<Duration, String> {
    const UNITS: [(&str, f64); 7] = [
        ("ns", 1e-9),
        ("us", 1e-6),
        ("µs", 1e-6),
        ("ms", 1e-3),
        ("s", 1.0),
        ("m", 60.0),
        ("h", 3600.0),
    ];
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = text;
    let mut seconds = 0.0;
    if rest.is_empty() {
        return Err("empty duration".to_owned());
    }
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_len]
            .parse()
            .map_err(|_| format!("{text:?} is not a duration like 300ms or 1.5s"))?;
        rest = &rest[number_len..];
        // Longest unit first, so "ms" is not read as "m".
        let (unit, scale) = UNITS
            .iter()
            .filter(|(unit, _)| rest.starts_with(unit))
            .max_by_key(|(unit, _)| unit.len())
            .ok_or_else(|| format!("{text:?} needs a unit (ns, us, ms, s, m, h)"))?;
        seconds += number * scale;
        rest = &rest[unit.len()..];
    }
    Duration::try_from_secs_f64(seconds).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ports_and_hosts() {
        let env = Env::from_pairs([("PORT", "7000")]);
        assert_eq!(env.listen_addr(1).unwrap(), "0.0.0.0:7000".parse().unwrap());
        let env = Env::from_pairs([("PORT", " "), ("LISTEN_ADDR", "127.0.0.1")]);
        assert_eq!(
            env.listen_addr(9555).unwrap(),
            "127.0.0.1:9555".parse().unwrap()
        );
        let err = Env::from_pairs([("PORT", "70000")])
            .listen_addr(1)
            .unwrap_err();
        assert_eq!(err.var, "PORT");
        assert!(err.to_string().contains("70000"), "{err}");
    }

    #[test]
    fn reads_flags() {
        let env = Env::from_pairs([("A", "1"), ("B", "FALSE"), ("C", "maybe")]);
        assert!(env.flag("A").unwrap());
        assert!(!env.flag("B").unwrap());
        assert!(!env.flag("UNSET").unwrap());
        assert_eq!(env.flag("C").unwrap_err().var, "C");
    }

    #[test]
    fn checks_service_addresses() {
        assert_eq!(parse_service_addr("cart:7070").unwrap(), "cart:7070");
        assert_eq!(
            parse_service_addr("http://127.0.0.1:1/").unwrap(),
            "127.0.0.1:1"
        );
        assert_eq!(parse_service_addr("[::1]:50051").unwrap(), "[::1]:50051");
        for bad in ["cart", ":7070", "cart:x", "cart:99999", "a/b:1"] {
            assert!(parse_service_addr(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_go_durations() {
        assert_eq!(
            parse_go_duration("5.5s").unwrap(),
            Duration::from_millis(5500)
        );
        assert_eq!(
            parse_go_duration("300ms").unwrap(),
            Duration::from_millis(300)
        );
        assert_eq!(parse_go_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_go_duration("2us").unwrap(), Duration::from_micros(2));
        assert_eq!(parse_go_duration("0").unwrap(), Duration::ZERO);
        for bad in ["", "5", "s", "5x", "-1s", "1..2s"] {
            assert!(parse_go_duration(bad).is_err(), "{bad}");
        }
    }
}
