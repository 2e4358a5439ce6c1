//! Frontend settings, read once from the environment with upstream's names.
//!
//! Everything is validated here so a typo stops the process at startup (exit
//! 64) instead of surfacing as a broken page later. The platform banner is
//! resolved here too, once: upstream resolved it lazily in the home handler
//! (racing on a global and doing a DNS lookup per request).

use std::time::Duration;

use boutique_flags::FlagsConfig;
use boutique_platform::{
    App, ConfigError, Env, Listen, Peers, ServerError, ServiceConfig, Telemetry,
    config::{CACHE_TTL_VAR, parse_cache_ttl, parse_go_duration, parse_service_addr},
};
use boutique_proto::directory::{self, ServiceInfo};

use crate::session::SessionKey;

/// The id every new session gets with `ENABLE_SINGLE_SHARED_SESSION=true`
/// (upstream's constant).
pub const SHARED_SESSION_ID: &str = "12345678-1234-1234-1234-123456789123";

/// The hosting platform shown in the banner (`ENV_PLATFORM`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Platform {
    /// Anything unrecognised, and the default.
    #[default]
    Local,
    /// Google Cloud.
    Gcp,
    /// Microsoft Azure.
    Azure,
    /// Amazon Web Services.
    Aws,
    /// An on-premises cluster.
    OnPrem,
    /// Alibaba Cloud.
    Alibaba,
}

impl Platform {
    /// Upstream's mapping: known names pick a platform, anything else is local.
    pub fn parse(value: &str) -> Self {
        match value.to_ascii_lowercase().as_str() {
            "gcp" => Self::Gcp,
            "azure" => Self::Azure,
            "aws" => Self::Aws,
            "onprem" => Self::OnPrem,
            "alibaba" => Self::Alibaba,
            _ => Self::Local,
        }
    }

    /// The banner's CSS class, as upstream.
    pub fn css_class(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Gcp => "gcp-platform",
            Self::Azure => "azure-platform",
            Self::Aws => "aws-platform",
            Self::OnPrem => "onprem-platform",
            Self::Alibaba => "alibaba-platform",
        }
    }

    /// The banner's label, as upstream.
    pub fn label(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Gcp => "Google Cloud",
            Self::Azure => "Azure",
            Self::Aws => "AWS",
            Self::OnPrem => "On-Premises",
            Self::Alibaba => "Alibaba Cloud",
        }
    }
}

/// Frontend settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen (`LISTEN_ADDR`, `PORT`, default port 8080, `REUSE_PORT`).
    pub listen: Listen,
    /// The backends: every service the directory lists among the
    /// storefront's calls (their `*_SERVICE_ADDR`s, all required).
    pub peers: Peers,
    /// The path prefix of every route and link (`BASE_URL`): empty, or `/x`
    /// with no trailing slash.
    pub base_url: String,
    /// The banner platform (`ENV_PLATFORM`).
    pub platform: Platform,
    /// A message shown at the top of every page (`FRONTEND_MESSAGE`).
    pub message: Option<String>,
    /// Every new session gets [`SHARED_SESSION_ID`] (`ENABLE_SINGLE_SHARED_SESSION`).
    pub single_shared_session: bool,
    /// "Cymbal Shops" instead of "Online Boutique" (`CYMBAL_BRANDING`).
    pub cymbal_branding: bool,
    /// Cookies carry `Secure` (`COOKIE_SECURE`); set it when the shop is
    /// served over TLS (usually by a proxy in front of it).
    pub cookie_secure: bool,
    /// How long the currency list, the catalog and conversions are reused
    /// (`CACHE_TTL`, a Go duration; `0` asks the backends on every request).
    pub cache_ttl: Duration,
    /// Signs session cookies (`SESSION_SECRET`, or `SESSION_SECRET_FILE`
    /// naming a file that holds it). `None` draws a key when the router is
    /// built, with a warning: sessions then last only as long as the process
    /// and are not shared by replicas. The binary may hand in a key of its own.
    pub session_key: Option<SessionKey>,
    /// A previous key that still verifies, for rotation
    /// (`SESSION_SECRET_PREVIOUS` or `SESSION_SECRET_PREVIOUS_FILE`).
    pub previous_session_key: Option<SessionKey>,
    /// The shopping assistant, `host:port` (`SHOPPING_ASSISTANT_SERVICE_ADDR`);
    /// optional here, unlike upstream.
    pub assistant_addr: Option<String>,
    /// The header links to the assistant (`ENABLE_ASSISTANT`); needs
    /// [`assistant_addr`](Self::assistant_addr).
    pub enable_assistant: bool,
    /// How long `POST /bot` waits for the assistant's answer (`ASSISTANT_TIMEOUT`).
    pub assistant_timeout: Duration,
    /// Requests served at once at most (`MAX_IN_FLIGHT_REQUESTS`); one more
    /// is answered 503 with `Retry-After` at once (load shedding), so an
    /// overload shows as refusals rather than as latency for everyone.
    pub max_in_flight: usize,
    /// How many proxies in front of the shop append to `X-Forwarded-For`
    /// (`TRUSTED_PROXY_HOPS`): the client address the sign-in throttle
    /// counts is that many entries from the right of the header; 0 (the
    /// default) takes the connection's peer and ignores the header, which a
    /// client could write anything into.
    pub trusted_proxy_hops: usize,
    /// Where the failure flags come from (`FLAGD_*`): `imageSlowLoad`.
    pub flags: FlagsConfig,
}

impl ServiceConfig for Config {
    const SERVICE: &'static ServiceInfo = &directory::FRONTEND;

    /// Reads the settings; every `*_SERVICE_ADDR` is required (the assistant's is not).
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let base_url = env
            .parse_with("BASE_URL", parse_base_url)?
            .unwrap_or_default();
        Ok(Self {
            listen: env.listen(Self::SERVICE.port)?,
            peers: Peers::from_env(env, Self::SERVICE)?,
            base_url,
            platform: env
                .get("ENV_PLATFORM")
                .map(Platform::parse)
                .unwrap_or_default(),
            message: env.get("FRONTEND_MESSAGE").map(str::to_owned),
            single_shared_session: env.flag("ENABLE_SINGLE_SHARED_SESSION")?,
            cymbal_branding: env.flag("CYMBAL_BRANDING")?,
            cookie_secure: env.flag("COOKIE_SECURE")?,
            cache_ttl: env
                .parse_with(CACHE_TTL_VAR, parse_cache_ttl)?
                .unwrap_or(crate::cache::DEFAULT_TTL),
            session_key: session_key(env, SESSION_SECRET_VAR)?,
            previous_session_key: session_key(env, SESSION_SECRET_PREVIOUS_VAR)?,
            assistant_addr: assistant_addr(env)?,
            enable_assistant: env.flag(ENABLE_ASSISTANT_VAR)?,
            assistant_timeout: env
                .parse_with(ASSISTANT_TIMEOUT_VAR, parse_assistant_timeout)?
                .unwrap_or(DEFAULT_ASSISTANT_TIMEOUT),
            max_in_flight: env
                .parse_with(MAX_IN_FLIGHT_VAR, parse_max_in_flight)?
                .unwrap_or(DEFAULT_MAX_IN_FLIGHT),
            trusted_proxy_hops: env.parse_or(TRUSTED_PROXY_HOPS_VAR, 0)?,
            flags: FlagsConfig::from_env(env)?,
        })
    }

    async fn build(self, telemetry: Telemetry) -> Result<App, ServerError> {
        crate::build(self, telemetry).await
    }
}

impl Config {
    /// The shop's name in titles and the header.
    pub fn shop_name(&self) -> &'static str {
        if self.cymbal_branding {
            "Cymbal Shops"
        } else {
            "Online Boutique"
        }
    }
}

/// The variable saying how many proxies append to `X-Forwarded-For`.
pub const TRUSTED_PROXY_HOPS_VAR: &str = "TRUSTED_PROXY_HOPS";

/// The variable holding the session signing secret; with `_FILE`, a file holding it.
pub const SESSION_SECRET_VAR: &str = "SESSION_SECRET";

/// The variable holding the previous session secret, during a rotation.
pub const SESSION_SECRET_PREVIOUS_VAR: &str = "SESSION_SECRET_PREVIOUS";

/// The variable naming the shopping assistant's `host:port`.
pub const ASSISTANT_ADDR_VAR: &str = "SHOPPING_ASSISTANT_SERVICE_ADDR";

/// The variable that shows the assistant in the header.
pub const ENABLE_ASSISTANT_VAR: &str = "ENABLE_ASSISTANT";

/// The variable bounding how long the assistant may take.
pub const ASSISTANT_TIMEOUT_VAR: &str = "ASSISTANT_TIMEOUT";

/// How long the assistant may take by default: a language model's answer
/// takes seconds, and the whole request must end before [`crate::REQUEST_TIMEOUT`].
pub const DEFAULT_ASSISTANT_TIMEOUT: Duration = Duration::from_secs(15);

/// Stands for a secret's value in an error message.
const HIDDEN: &str = "(hidden)";

/// The session key from `{var}` or from the file `{var}_FILE` names (outer
/// whitespace, such as the newline a file usually ends with, is not part of
/// the secret); `None` when neither is set. The secret never appears in an error.
fn session_key(env: &Env, var: &str) -> Result<Option<SessionKey>, ConfigError> {
    let file_var = format!("{var}_FILE");
    let (source, secret) = match (env.get(var), env.get(&file_var)) {
        (None, None) => return Ok(None),
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(
                var,
                HIDDEN,
                format!("set either {var} or {file_var}, not both"),
            ));
        }
        (Some(secret), None) => (var, secret.as_bytes().to_vec()),
        (None, Some(path)) => {
            let bytes = std::fs::read(path)
                .map_err(|e| ConfigError::new(&file_var, path, format!("cannot read it: {e}")))?;
            (file_var.as_str(), bytes.trim_ascii().to_vec())
        }
    };
    SessionKey::from_secret(&secret)
        .map(Some)
        .map_err(|reason| ConfigError::new(source, HIDDEN, reason))
}

/// `SHOPPING_ASSISTANT_SERVICE_ADDR`, checked for shape; `ENABLE_ASSISTANT`
/// without it would link every page to an assistant that cannot answer.
fn assistant_addr(env: &Env) -> Result<Option<String>, ConfigError> {
    let addr = env.parse_with(ASSISTANT_ADDR_VAR, parse_service_addr)?;
    if addr.is_none() && env.flag(ENABLE_ASSISTANT_VAR)? {
        return Err(ConfigError::new(
            ENABLE_ASSISTANT_VAR,
            env.get(ENABLE_ASSISTANT_VAR).unwrap_or_default(),
            format!("needs {ASSISTANT_ADDR_VAR}"),
        ));
    }
    Ok(addr)
}

/// Parses `ASSISTANT_TIMEOUT`: a Go duration above zero and below
/// [`crate::REQUEST_TIMEOUT`], so a slow assistant gets a JSON answer rather
/// than the request timeout's error page.
pub fn parse_assistant_timeout(value: &str) -> Result<Duration, String> {
    let timeout = parse_go_duration(value)?;
    if timeout.is_zero() || timeout >= crate::REQUEST_TIMEOUT {
        return Err(format!(
            "must be above 0 and below the request timeout ({}s)",
            crate::REQUEST_TIMEOUT.as_secs()
        ));
    }
    Ok(timeout)
}

/// The variable capping the requests served at once.
pub const MAX_IN_FLIGHT_VAR: &str = "MAX_IN_FLIGHT_REQUESTS";

/// Requests served at once unless `MAX_IN_FLIGHT_REQUESTS` says otherwise:
/// far above what one frontend serves well (a few hundred pages at a time
/// on two cores), so only a real overload is shed.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 2048;

/// Checks a `MAX_IN_FLIGHT_REQUESTS`: 1 to 1000000.
pub fn parse_max_in_flight(value: &str) -> Result<usize, String> {
    match value.trim().parse::<usize>() {
        Ok(n) if (1..=1_000_000).contains(&n) => Ok(n),
        _ => Err("must be a whole number from 1 to 1000000".to_owned()),
    }
}

/// Checks a `BASE_URL`: `/` alone means none; otherwise it must start with `/`,
/// hold only unreserved path characters, and not end with `/` (one trailing
/// slash is dropped). Anything else could break every link or open a header
/// injection, so it is refused.
pub fn parse_base_url(value: &str) -> Result<String, String> {
    let trimmed = value.strip_suffix('/').unwrap_or(value);
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    if !trimmed.starts_with('/') {
        return Err("must start with '/', e.g. /online-boutique".to_owned());
    }
    if trimmed.contains("//") || trimmed.ends_with('/') {
        return Err("must not contain empty path segments".to_owned());
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.' | '~');
    if !trimmed.chars().all(allowed) {
        return Err("may hold only letters, digits, '/', '-', '_', '.' and '~'".to_owned());
    }
    if trimmed
        .split('/')
        .any(|segment| segment == "." || segment == "..")
    {
        return Err("must not contain '.' or '..' segments".to_owned());
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BACKENDS: &[&ServiceInfo] = directory::FRONTEND.calls;

    fn full_env() -> Env {
        Env::from_pairs(BACKENDS.iter().map(|s| (s.addr_var, "localhost:1")))
    }

    #[test]
    fn the_in_flight_limit_defaults_and_refuses_nonsense() {
        let config = Config::from_env(&full_env()).unwrap();
        assert_eq!(config.max_in_flight, DEFAULT_MAX_IN_FLIGHT);
        let pairs = |value: &str| full_env().with(MAX_IN_FLIGHT_VAR, value);
        assert_eq!(Config::from_env(&pairs("64")).unwrap().max_in_flight, 64);
        for bad in ["0", "-1", "many", "1000001"] {
            let err = Config::from_env(&pairs(bad)).unwrap_err();
            assert_eq!(err.var, MAX_IN_FLIGHT_VAR, "{bad}");
        }
    }

    #[test]
    fn needs_every_backend_but_not_the_assistant() {
        let config = Config::from_env(&full_env()).unwrap();
        assert_eq!(config.listen.port(), 8080);
        assert_eq!(config.base_url, "");
        assert_eq!(config.platform, Platform::Local);
        assert_eq!(config.cache_ttl, crate::cache::DEFAULT_TTL);
        for backend in BACKENDS {
            assert!(config.peers.addr(backend).is_some(), "{}", backend.name);
            let pairs = BACKENDS
                .iter()
                .filter(|other| other != &backend)
                .map(|other| (other.addr_var, "localhost:1"));
            let err = Config::from_env(&Env::from_pairs(pairs)).unwrap_err();
            assert_eq!(err.var, backend.addr_var);
        }
        // The assistant is optional: absent, there is none and no link.
        assert_eq!(config.assistant_addr, None);
        assert!(!config.enable_assistant);
        assert_eq!(config.assistant_timeout, DEFAULT_ASSISTANT_TIMEOUT);
        // Present, it is read and checked like any other address.
        let with = |value: &str| Config::from_env(&full_env().with(ASSISTANT_ADDR_VAR, value));
        let config = with("shoppingassistantservice:80").unwrap();
        assert_eq!(
            config.assistant_addr.as_deref(),
            Some("shoppingassistantservice:80")
        );
        for bad in ["assistant", "https://assistant:80", "assistant:eighty"] {
            assert_eq!(with(bad).unwrap_err().var, ASSISTANT_ADDR_VAR, "{bad}");
        }
        // The header link needs the address.
        let link = full_env().with(ENABLE_ASSISTANT_VAR, "true");
        assert_eq!(
            Config::from_env(&link).unwrap_err().var,
            ENABLE_ASSISTANT_VAR
        );
        let linked = link.with(ASSISTANT_ADDR_VAR, "assistant:8080");
        assert!(Config::from_env(&linked).unwrap().enable_assistant);
    }

    #[test]
    fn reads_session_secrets_without_showing_them() {
        let config = Config::from_env(&full_env()).unwrap();
        assert!(config.session_key.is_none() && config.previous_session_key.is_none());

        let secret = "s3cr3t-".repeat(5);
        let env = full_env()
            .with(SESSION_SECRET_VAR, secret.clone())
            .with(SESSION_SECRET_PREVIOUS_VAR, "p".repeat(32));
        let config = Config::from_env(&env).unwrap();
        assert!(config.session_key.is_some() && config.previous_session_key.is_some());

        let short = "too-short-secret";
        for var in [SESSION_SECRET_VAR, SESSION_SECRET_PREVIOUS_VAR] {
            let err = Config::from_env(&full_env().with(var, short)).unwrap_err();
            assert_eq!(err.var, var);
            assert!(!err.to_string().contains(short), "{err}");
        }
        let both = env.with("SESSION_SECRET_FILE", "/run/secrets/session");
        let err = Config::from_env(&both).unwrap_err();
        assert_eq!(err.var, SESSION_SECRET_VAR);
        assert!(!err.to_string().contains(&secret), "{err}");
    }

    #[test]
    fn reads_session_secrets_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good");
        // A trailing newline, as `echo` or an editor leaves, is not part of it.
        std::fs::write(&good, format!("{}\n", "k".repeat(32))).unwrap();
        let short = dir.path().join("short");
        std::fs::write(&short, "k".repeat(31)).unwrap();
        let missing = dir.path().join("missing");
        let path = |path: &std::path::Path| path.to_str().unwrap().to_owned();

        let env = full_env().with("SESSION_SECRET_FILE", path(&good));
        let from_file = Config::from_env(&env).unwrap().session_key.unwrap();
        let direct = full_env().with(SESSION_SECRET_VAR, "k".repeat(32));
        let from_env = Config::from_env(&direct).unwrap().session_key.unwrap();
        // The same secret makes the same key: a cookie one signs, the other keeps.
        let minted = crate::session::Sessions::new(from_file, None, false).resolve(None);
        let again =
            crate::session::Sessions::new(from_env, None, false).resolve(minted.cookie.as_deref());
        assert_eq!(again.id, minted.id);

        for (var, file) in [
            ("SESSION_SECRET_FILE", &short),
            ("SESSION_SECRET_FILE", &missing),
            ("SESSION_SECRET_PREVIOUS_FILE", &missing),
        ] {
            let err = Config::from_env(&full_env().with(var, path(file))).unwrap_err();
            assert_eq!(err.var, var, "{file:?}");
        }
    }

    #[test]
    fn validates_settings() {
        for (var, bad) in [
            ("BASE_URL", "shop"),
            ("BASE_URL", "/a b"),
            ("BASE_URL", "/a//b"),
            ("BASE_URL", "/a/../b"),
            ("BASE_URL", "/x\"y"),
            ("PORT", "eighty"),
            ("ENABLE_SINGLE_SHARED_SESSION", "maybe"),
            ("COOKIE_SECURE", "2"),
            ("CART_SERVICE_ADDR", "cart"),
            ("CACHE_TTL", "5"),
            ("CACHE_TTL", "2m"),
            ("CACHE_TTL", "-1s"),
            ("ENABLE_ASSISTANT", "sometimes"),
            ("ASSISTANT_TIMEOUT", "0s"),
            ("ASSISTANT_TIMEOUT", "20s"),
            ("ASSISTANT_TIMEOUT", "5"),
        ] {
            let err = Config::from_env(&full_env().with(var, bad)).unwrap_err();
            assert_eq!(err.var, var, "{var}={bad}");
        }
    }

    #[test]
    fn reads_optional_settings() {
        let env = full_env()
            .with("BASE_URL", "/online-boutique/")
            .with("ENV_PLATFORM", "AWS")
            .with("FRONTEND_MESSAGE", "  Hello  ")
            .with("CYMBAL_BRANDING", "TRUE")
            .with("COOKIE_SECURE", "true")
            .with("ENABLE_SINGLE_SHARED_SESSION", "true")
            .with("CACHE_TTL", "1500ms")
            .with("ASSISTANT_TIMEOUT", "2s");
        let config = Config::from_env(&env).unwrap();
        assert_eq!(config.assistant_timeout, Duration::from_secs(2));
        assert_eq!(config.cache_ttl, Duration::from_millis(1500));
        let off = Config::from_env(&full_env().with("CACHE_TTL", "0")).unwrap();
        assert_eq!(off.cache_ttl, Duration::ZERO);
        assert_eq!(config.base_url, "/online-boutique");
        assert_eq!(config.platform, Platform::Aws);
        assert_eq!(config.message.as_deref(), Some("Hello"));
        assert_eq!(config.shop_name(), "Cymbal Shops");
        assert!(config.cookie_secure && config.single_shared_session);
        assert_eq!(parse_base_url("/").unwrap(), "");
    }

    #[test]
    fn maps_platforms_like_upstream() {
        let cases = [
            ("gcp", "gcp-platform", "Google Cloud"),
            ("azure", "azure-platform", "Azure"),
            ("aws", "aws-platform", "AWS"),
            ("onprem", "onprem-platform", "On-Premises"),
            ("alibaba", "alibaba-platform", "Alibaba Cloud"),
            ("mainframe", "local", "local"),
        ];
        for (name, class, label) in cases {
            let platform = Platform::parse(name);
            assert_eq!((platform.css_class(), platform.label()), (class, label));
        }
    }
}
