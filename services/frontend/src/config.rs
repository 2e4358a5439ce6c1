//! Frontend settings, read once from the environment with upstream's names.
//!
//! Everything is validated here so a typo stops the process at startup (exit
//! 64) instead of surfacing as a broken page later. The platform banner is
//! resolved here too, once: upstream resolved it lazily in the home handler
//! (racing on a global and doing a DNS lookup per request).

use std::{net::SocketAddr, time::Duration};

use boutique_platform::{
    App, ConfigError, Env, Peers, ServerError, ServiceConfig, Telemetry,
    config::{CACHE_TTL_VAR, parse_cache_ttl},
};
use boutique_proto::directory::{self, ServiceInfo};

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
    /// Where to listen (`LISTEN_ADDR`, `PORT`, default port 8080).
    pub listen: SocketAddr,
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
}

impl ServiceConfig for Config {
    const SERVICE: &'static ServiceInfo = &directory::FRONTEND;

    /// Reads the settings; every `*_SERVICE_ADDR` is required (the assistant's is not).
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let base_url = env
            .parse_with("BASE_URL", parse_base_url)?
            .unwrap_or_default();
        Ok(Self {
            listen: env.listen_addr(Self::SERVICE.port)?,
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
            .with("CACHE_TTL", "1500ms");
        let config = Config::from_env(&env).unwrap();
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
