//! How the bus reaches its broker and paces its consumers, read once from the
//! environment.
//!
//! Without `AMQP_URL` the bus is the in-process memory hub. A bad value is a
//! [`ConfigError`] naming the variable (the binary exits 64), and a URL shown
//! anywhere (errors, `Debug`, logs) has its password replaced by `***`.

use std::{fmt, time::Duration};

use boutique_platform::{
    Env,
    config::{ConfigError, parse_go_duration},
};
use lapin::uri::{AMQPScheme, AMQPUri};

/// The broker: `amqp://USER:PASSWORD@HOST:PORT/VHOST` (or `amqps://`).
pub const AMQP_URL_VAR: &str = "AMQP_URL";
/// How many times a message may be handed back (retried) before it is dead-lettered.
pub const DELIVERY_LIMIT_VAR: &str = "EVENTS_DELIVERY_LIMIT";
/// How many messages a consumer holds, and handles, at once.
pub const PREFETCH_VAR: &str = "EVENTS_PREFETCH";
/// The wait before a retried message is handed back (a Go duration), doubled
/// with each delivery.
pub const RETRY_BACKOFF_VAR: &str = "EVENTS_RETRY_BACKOFF";
/// How long connecting to the broker may take (a Go duration).
pub const CONNECT_TIMEOUT_VAR: &str = "EVENTS_CONNECT_TIMEOUT";
/// How long a published batch may wait for the broker's confirms (a Go duration).
pub const CONFIRM_TIMEOUT_VAR: &str = "EVENTS_CONFIRM_TIMEOUT";
/// The most messages the memory hub queues (and, apart, keeps as dead letters).
pub const MEMORY_CAPACITY_VAR: &str = "EVENTS_MEMORY_CAPACITY";

/// Default [`EventsConfig::delivery_limit`]: a handful of retries rides out a
/// restart of what the handler calls, without holding poison for long.
pub const DEFAULT_DELIVERY_LIMIT: u32 = 5;
/// Default [`EventsConfig::prefetch`]: enough concurrency for I/O-bound
/// handlers on two cores, few enough to hand back quickly on shutdown.
pub const DEFAULT_PREFETCH: u16 = 10;
/// Default [`EventsConfig::retry_backoff`]: with the default limit, a message
/// is retried over about a minute (1 + 2 + 4 + 8 + 16 + 30 s) before it is
/// dead-lettered.
pub const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait before a retried message is handed back.
pub const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(30);
/// Default [`EventsConfig::connect_timeout`]: a broker that does not answer in
/// this long is down, and the outbox relay should hear so and try later.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default [`EventsConfig::confirm_timeout`].
pub const DEFAULT_CONFIRM_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`EventsConfig::memory_capacity`]: far more than `boutique all`
/// queues in a demo, small enough (a few MB) to be no risk.
pub const DEFAULT_MEMORY_CAPACITY: usize = 10_000;

/// The bus's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsConfig {
    /// The broker; `None` for the in-process memory hub.
    pub amqp_url: Option<AmqpUrl>,
    /// How many times a message may be handed back before it is dead-lettered:
    /// it is delivered at most `delivery_limit + 1` times. A property of the
    /// queue (its `x-delivery-limit`), fixed when the queue is first declared.
    pub delivery_limit: u32,
    /// How many unacknowledged messages one consumer holds; it runs that many
    /// handlers at once.
    pub prefetch: u16,
    /// The wait before a message whose handler asked for a retry is handed
    /// back: this for the first delivery, doubled for each one after, at most
    /// [`MAX_RETRY_BACKOFF`].
    pub retry_backoff: Duration,
    /// How long connecting to the broker (and declaring the topology) may take.
    pub connect_timeout: Duration,
    /// How long a published batch may wait for the broker's confirms.
    pub confirm_timeout: Duration,
    /// The most messages the memory hub queues (ready plus held by
    /// consumers); a publish that would pass it fails. It keeps as many dead
    /// letters, dropping the oldest. Fixed when a hub is first used.
    pub memory_capacity: usize,
}

impl Default for EventsConfig {
    /// The memory hub with the default settings.
    fn default() -> Self {
        Self {
            amqp_url: None,
            delivery_limit: DEFAULT_DELIVERY_LIMIT,
            prefetch: DEFAULT_PREFETCH,
            retry_backoff: DEFAULT_RETRY_BACKOFF,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            confirm_timeout: DEFAULT_CONFIRM_TIMEOUT,
            memory_capacity: DEFAULT_MEMORY_CAPACITY,
        }
    }
}

impl EventsConfig {
    /// Reads `AMQP_URL`, `EVENTS_DELIVERY_LIMIT`, `EVENTS_PREFETCH`,
    /// `EVENTS_RETRY_BACKOFF`, `EVENTS_CONNECT_TIMEOUT`,
    /// `EVENTS_CONFIRM_TIMEOUT` and `EVENTS_MEMORY_CAPACITY`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let amqp_url = match env.get(AMQP_URL_VAR) {
            Some(url) => Some(
                AmqpUrl::parse(url)
                    .map_err(|reason| ConfigError::new(AMQP_URL_VAR, &redact(url), reason))?,
            ),
            None => None,
        };
        let defaults = Self::default();
        Ok(Self {
            amqp_url,
            delivery_limit: env
                .parse_with(DELIVERY_LIMIT_VAR, |v| at_least_one::<u32>(v, "retries"))?
                .unwrap_or(defaults.delivery_limit),
            prefetch: env
                .parse_with(PREFETCH_VAR, |v| at_least_one::<u16>(v, "messages"))?
                .unwrap_or(defaults.prefetch),
            retry_backoff: env
                .parse_with(RETRY_BACKOFF_VAR, parse_go_duration)?
                .unwrap_or(defaults.retry_backoff),
            connect_timeout: env
                .parse_with(CONNECT_TIMEOUT_VAR, positive_duration)?
                .unwrap_or(defaults.connect_timeout),
            confirm_timeout: env
                .parse_with(CONFIRM_TIMEOUT_VAR, positive_duration)?
                .unwrap_or(defaults.confirm_timeout),
            memory_capacity: env
                .parse_with(MEMORY_CAPACITY_VAR, |v| {
                    at_least_one::<usize>(v, "messages")
                })?
                .unwrap_or(defaults.memory_capacity),
        })
    }

    /// The default settings with the broker at `url` (validated as `AMQP_URL` is).
    pub fn amqp(url: &str) -> Result<Self, ConfigError> {
        let url = AmqpUrl::parse(url)
            .map_err(|reason| ConfigError::new(AMQP_URL_VAR, &redact(url), reason))?;
        Ok(Self {
            amqp_url: Some(url),
            ..Self::default()
        })
    }

    /// How long to wait before handing back a message whose handler asked for
    /// a retry on its `delivery`-th delivery (1 for the first).
    pub fn retry_delay(&self, delivery: u32) -> Duration {
        let doublings = delivery.saturating_sub(1).min(16);
        self.retry_backoff
            .saturating_mul(1 << doublings)
            .min(MAX_RETRY_BACKOFF)
    }
}

/// A broker URL, which may hold a password. `Debug` and `Display` redact it;
/// only the connection code sees the real text.
#[derive(Clone, PartialEq, Eq)]
pub struct AmqpUrl(String);

impl AmqpUrl {
    /// Checks `url`: `amqp://` or `amqps://`, a host, and what else the client
    /// reads from it (port, `heartbeat=`, `connection_timeout=`, …) parsable.
    /// The error never repeats the password.
    pub fn parse(url: &str) -> Result<Self, String> {
        let scheme = url.split_once("://").map(|(scheme, _)| scheme);
        if !matches!(scheme, Some("amqp" | "amqps")) {
            return Err("expected amqp://USER:PASSWORD@HOST:PORT/VHOST (or amqps://)".to_owned());
        }
        if host(url).is_none_or(str::is_empty) {
            return Err("the URL has no host".to_owned());
        }
        match url.parse::<AMQPUri>() {
            Ok(_) => Ok(Self(url.to_owned())),
            // The parser's message is about the URL's shape; scrub it anyway,
            // since it is not ours to promise it never quotes the input.
            Err(e) => Err(format!("not a valid AMQP URL: {}", scrub(&e, url))),
        }
    }

    /// The parsed URL for the client. lapin takes the host from the URL's
    /// *domain*, which an IP address is not, so `amqp://10.0.0.5` would connect
    /// to `localhost`: put the literal address back.
    pub(crate) fn uri(&self) -> AMQPUri {
        let mut uri: AMQPUri = self
            .0
            .parse()
            .expect("an AmqpUrl was validated when it was made");
        if let Some(host) = host(&self.0)
            && host.parse::<std::net::IpAddr>().is_ok()
        {
            host.clone_into(&mut uri.authority.host);
        }
        uri
    }

    /// Whether the connection is TLS (`amqps://`).
    pub fn is_tls(&self) -> bool {
        self.uri().scheme == AMQPScheme::AMQPS
    }

    /// Replaces this URL's password in `text` (a driver's error message) by `***`.
    pub(crate) fn scrub(&self, text: &str) -> String {
        scrub(text, &self.0)
    }
}

impl fmt::Display for AmqpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.0))
    }
}

impl fmt::Debug for AmqpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AmqpUrl({:?})", redact(&self.0))
    }
}

/// The authority (`user:password@host:port`) of `url`.
fn authority(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    Some(&rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())])
}

/// The password in `url`'s user info, as written.
fn password(url: &str) -> Option<&str> {
    let (userinfo, _) = authority(url)?.rsplit_once('@')?;
    userinfo.split_once(':').map(|(_, password)| password)
}

/// The host of `url`, without brackets around an IPv6 address.
fn host(url: &str) -> Option<&str> {
    let authority = authority(url)?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = host_port.strip_prefix('[') {
        return v6.split_once(']').map(|(host, _)| host);
    }
    Some(
        host_port
            .split_once(':')
            .map_or(host_port, |(host, _)| host),
    )
}

/// `url` with its password replaced by `***`.
fn redact(url: &str) -> String {
    match password(url) {
        Some(password) if !password.is_empty() => {
            let authority = authority(url).unwrap_or_default();
            let (userinfo, host) = authority.rsplit_once('@').unwrap_or_default();
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            url.replacen(authority, &format!("{user}:***@{host}"), 1)
        }
        _ => url.to_owned(),
    }
}

/// `text` with `url`'s password (as written and percent-decoded) replaced by `***`.
fn scrub(text: &str, url: &str) -> String {
    let Some(password) = password(url).filter(|p| !p.is_empty()) else {
        return text.to_owned();
    };
    let decoded = percent_decode(password);
    // Longest first, so one containing the other is replaced whole.
    let mut secrets = [password.to_owned(), decoded];
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets
        .iter()
        .filter(|s| !s.is_empty())
        .fold(text.to_owned(), |text, secret| text.replace(secret, "***"))
}

/// Decodes `%XX` escapes; anything malformed is kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| text.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        if let Some(byte) = escaped {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn at_least_one<T>(value: &str, what: &str) -> Result<T, String>
where
    T: std::str::FromStr + PartialEq + From<u8>,
{
    match value.parse::<T>() {
        Ok(n) if n == T::from(0) => Err("must be at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("expected a whole number of {what}, at least 1")),
    }
}

fn positive_duration(value: &str) -> Result<Duration, String> {
    let duration = parse_go_duration(value)?;
    if duration.is_zero() {
        return Err("must be longer than zero".to_owned());
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<EventsConfig, ConfigError> {
        EventsConfig::from_env(&Env::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn defaults_to_the_memory_hub() {
        let cfg = config(&[]).unwrap();
        assert_eq!(cfg, EventsConfig::default());
        assert_eq!(cfg.amqp_url, None);
        assert_eq!(cfg.delivery_limit, 5);
        assert_eq!(cfg.prefetch, DEFAULT_PREFETCH);
    }

    #[test]
    fn reads_every_setting() {
        let cfg = config(&[
            (
                "AMQP_URL",
                "amqps://shop:s3cret@mq.example:5671/shop?heartbeat=10",
            ),
            ("EVENTS_DELIVERY_LIMIT", "3"),
            ("EVENTS_PREFETCH", "64"),
            ("EVENTS_RETRY_BACKOFF", "250ms"),
            ("EVENTS_CONNECT_TIMEOUT", "2s"),
            ("EVENTS_CONFIRM_TIMEOUT", "1m"),
            ("EVENTS_MEMORY_CAPACITY", "100"),
        ])
        .unwrap();
        let url = cfg.amqp_url.as_ref().unwrap();
        assert!(url.is_tls());
        assert_eq!(url.uri().authority.host, "mq.example");
        assert_eq!(url.uri().vhost, "shop");
        assert_eq!(cfg.delivery_limit, 3);
        assert_eq!(cfg.prefetch, 64);
        assert_eq!(cfg.retry_backoff, Duration::from_millis(250));
        assert_eq!(cfg.connect_timeout, Duration::from_secs(2));
        assert_eq!(cfg.confirm_timeout, Duration::from_secs(60));
        assert_eq!(cfg.memory_capacity, 100);
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (var, bad) in [
            ("AMQP_URL", "redis://u:hunter2@h/"),
            ("AMQP_URL", "amqp://u:hunter2@/vhost"),
            ("AMQP_URL", "amqp://u:hunter2@h:notaport/"),
            ("AMQP_URL", "amqp://u:hunter2@h/?heartbeat=often"),
            ("AMQP_URL", "mq.example:5672"),
            ("EVENTS_DELIVERY_LIMIT", "0"),
            ("EVENTS_DELIVERY_LIMIT", "-1"),
            ("EVENTS_PREFETCH", "0"),
            ("EVENTS_PREFETCH", "70000"),
            ("EVENTS_RETRY_BACKOFF", "5"),
            ("EVENTS_CONNECT_TIMEOUT", "0s"),
            ("EVENTS_CONFIRM_TIMEOUT", "soon"),
            ("EVENTS_MEMORY_CAPACITY", "0"),
        ] {
            let err = config(&[(var, bad)]).unwrap_err();
            assert_eq!(err.var, var, "{var}={bad}");
            let shown = format!("{err} {err:?}");
            assert!(!shown.contains("hunter2"), "{shown}");
        }
    }

    #[test]
    fn the_password_never_shows() {
        let cfg = config(&[("AMQP_URL", "amqp://shop:p%40ss@10.0.0.5:5672/%2f")]).unwrap();
        let shown = format!("{cfg:?} {}", cfg.amqp_url.as_ref().unwrap());
        assert!(
            !shown.contains("p%40ss") && !shown.contains("p@ss"),
            "{shown}"
        );
        assert!(
            shown.contains("amqp://shop:***@10.0.0.5:5672/%2f"),
            "{shown}"
        );
        let url = cfg.amqp_url.unwrap();
        assert_eq!(
            url.scrub("login failed with p@ss (p%40ss)"),
            "login failed with *** (***)"
        );
        // A literal IP is connected to as given, not as `localhost`.
        assert_eq!(url.uri().authority.host, "10.0.0.5");
        assert_eq!(url.uri().authority.userinfo.password, "p@ss");
        let v6 = AmqpUrl::parse("amqp://[::1]:5672/%2f").unwrap();
        assert_eq!(v6.uri().authority.host, "::1");
        assert_eq!(redact("amqp://guest@h/"), "amqp://guest@h/");
    }

    #[test]
    fn retry_delay_doubles_up_to_the_cap() {
        let cfg = EventsConfig {
            retry_backoff: Duration::from_millis(100),
            ..EventsConfig::default()
        };
        let delays: Vec<_> = (1..=4).map(|n| cfg.retry_delay(n)).collect();
        assert_eq!(
            delays,
            [100, 200, 400, 800].map(Duration::from_millis).to_vec()
        );
        assert_eq!(cfg.retry_delay(u32::MAX), MAX_RETRY_BACKOFF);
        assert_eq!(cfg.retry_delay(0), Duration::from_millis(100));
    }
}
