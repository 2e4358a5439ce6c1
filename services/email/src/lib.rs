//! The email service: order confirmations (`hipstershop.EmailService`).
//!
//! Upstream only logs that it received a request. Boutique renders a real
//! confirmation (a plain-text and an HTML version of the same facts: order id,
//! tracking id, every line with its total, shipping, the order total and the
//! address) and sends it as one `multipart/alternative` message when an SMTP
//! relay is configured. Without one it logs that the confirmation would have
//! been sent, so the shop still runs with no mail setup.
//!
//! Requests are checked first: the recipient must be a valid address and the
//! order complete, with valid amounts all in one currency; anything else is
//! `INVALID_ARGUMENT`. A relay that cannot be reached or refuses the message is
//! `UNAVAILABLE` ("email delivery failed: ...").
//!
//! Rendering needs no gRPC or SMTP: see [`OrderSummary`] and [`render_confirmation`].
//!
//! # Environment
//!
//! | Variable | Default | Meaning |
//! |---|---|---|
//! | `PORT` | `8080` | Port to listen on (upstream default). |
//! | `LISTEN_ADDR` | `0.0.0.0` | Address to listen on. |
//! | `SMTP_URL` | unset | The relay, in lettre's URL syntax: `smtp://host:25` (plain, e.g. a local relay), `smtp://user:pass@host:587?tls=required` (STARTTLS), `smtp://host:587?tls=opportunistic`, `smtps://user:pass@host:465` (TLS from the start). Percent-encode special characters in the user and password. Unset: nothing is sent, each confirmation is logged instead. |
//! | `EMAIL_FROM` | `Boutique <no-reply@boutique.invalid>` | The sender, a mailbox such as `Shop <shop@example.com>` or a bare address. |
//! | `FLAGD_*` | no flags | Failure flags (`boutique_flags::config`): `emailMemoryLeak` (a number, as the OpenTelemetry demo's) keeps that many copies of each confirmation in memory, up to [`LEAK_CAP`] bytes, given back when the flag goes to 0. |
//! | `SMTP_TIMEOUT` | `10s` | The longest one delivery may take, connecting included (Go-style duration such as `500ms`, `10s`); past it the call is `UNAVAILABLE`. |
//!
//! Every value is checked at startup; a bad one is a [`ConfigError`] naming the
//! variable (the binary exits with 64). The SMTP password never appears in
//! errors or logs: the URL is shown with it masked.

mod delivery;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod handlers;
mod metrics;
mod order;
mod render;

use std::{fmt, time::Duration};

use boutique_flags::{Flags, FlagsConfig, leak::Leak};
use boutique_platform::{
    App, ConfigError, Env, GrpcServer, Listen, ServerError, ServiceConfig, Telemetry,
    config::parse_go_duration,
};
use boutique_proto::{directory, email_service_server::EmailServiceServer};
use lettre::{AsyncSmtpTransport, Tokio1Executor, message::Mailbox};

pub use order::{InvalidOrder, OrderLine, OrderSummary};
pub use render::{Confirmation, RenderError, render_confirmation};

/// The sender when `EMAIL_FROM` is unset. `.invalid` is reserved (RFC 2606),
/// so a misconfigured deployment cannot send as someone's real domain.
pub const DEFAULT_FROM: &str = "Boutique <no-reply@boutique.invalid>";

/// The longest one delivery may take when `SMTP_TIMEOUT` is unset.
pub const DEFAULT_SMTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Email settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen (`LISTEN_ADDR`, `PORT`, `REUSE_PORT`).
    pub listen: Listen,
    /// The sender (`EMAIL_FROM`).
    pub from: Mailbox,
    /// The relay (`SMTP_URL`, `SMTP_TIMEOUT`); `None` logs instead of sending.
    pub smtp: Option<SmtpConfig>,
    /// Where the failure flags come from (`FLAGD_*`).
    pub flags: FlagsConfig,
}

/// The most memory `emailMemoryLeak` makes the service hold.
pub const LEAK_CAP: usize = 256 << 20;

/// A validated SMTP relay.
#[derive(Clone)]
pub struct SmtpConfig {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    redacted_url: String,
    timeout: Duration,
}

impl SmtpConfig {
    /// Checks `url` (lettre's syntax) and builds the transport, so a bad URL
    /// fails at startup rather than on the first order. Nothing connects yet.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, ConfigError> {
        let redacted_url = redact_url(url);
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| ConfigError::new("SMTP_URL", &redacted_url, e))?
            .timeout(Some(timeout))
            .build();
        Ok(Self {
            transport,
            redacted_url,
            timeout,
        })
    }

    /// The URL with any password masked, safe to log.
    pub fn redacted_url(&self) -> &str {
        &self.redacted_url
    }

    /// The longest one delivery may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

/// Shows the URL without its password, which is a secret.
impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("url", &self.redacted_url)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl ServiceConfig for Config {
    const SERVICE: &'static directory::ServiceInfo = &directory::EMAIL;

    /// Reads `PORT`, `LISTEN_ADDR`, `SMTP_URL`, `EMAIL_FROM` and `SMTP_TIMEOUT`.
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let from = env
            .parse_with("EMAIL_FROM", str::parse::<Mailbox>)?
            .map_or_else(
                || {
                    DEFAULT_FROM
                        .parse::<Mailbox>()
                        .map_err(|e| ConfigError::new("EMAIL_FROM", DEFAULT_FROM, e))
                },
                Ok,
            )?;
        let timeout = env
            .parse_with("SMTP_TIMEOUT", parse_go_duration)?
            .unwrap_or(DEFAULT_SMTP_TIMEOUT);
        if timeout.is_zero() {
            return Err(ConfigError::new(
                "SMTP_TIMEOUT",
                "0",
                "must be more than zero",
            ));
        }
        let smtp = env
            .get("SMTP_URL")
            .map(|url| SmtpConfig::new(url, timeout))
            .transpose()?;
        Ok(Self {
            listen: env.listen(Self::SERVICE.port)?,
            from,
            smtp,
            flags: FlagsConfig::from_env(env)?,
        })
    }

    async fn build(self, telemetry: Telemetry) -> Result<App, ServerError> {
        let delivery = match &self.smtp {
            Some(smtp) => {
                tracing::info!(
                    smtp_url = %smtp.redacted_url(),
                    from = %self.from,
                    "Order confirmations are sent over SMTP."
                );
                delivery::Delivery::Smtp(Box::new(delivery::Relay {
                    transport: smtp.transport.clone(),
                    from: self.from.clone(),
                    timeout: smtp.timeout,
                }))
            }
            None => {
                tracing::info!("SMTP_URL is not set: order confirmations are logged, not sent.");
                delivery::Delivery::LogOnly
            }
        };
        let server = GrpcServer::bind(&telemetry, self.listen)
            .await?
            .add_service(EmailServiceServer::new(handlers::Email {
                delivery,
                metrics: metrics::EmailMetrics::register(&telemetry),
                flags: Flags::new(&self.flags, &telemetry),
                leak: Leak::with_cap(LEAK_CAP),
            }));
        Ok(server.into())
    }
}

/// Masks the password in `scheme://user:password@host...`; anything else is
/// returned as it is, since without an `@` in the authority there is no secret.
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_logging_from_the_default_sender() {
        let config = Config::from_env(&Env::default()).unwrap();
        assert_eq!(config.listen.port(), 8080);
        assert!(config.smtp.is_none());
        assert_eq!(config.from.email.to_string(), "no-reply@boutique.invalid");
        assert_eq!(config.from.name.as_deref(), Some("Boutique"));
    }

    #[test]
    fn reads_smtp_settings() {
        let env = Env::from_pairs([
            ("SMTP_URL", "smtp://127.0.0.1:2525"),
            ("EMAIL_FROM", "shop@example.com"),
            ("SMTP_TIMEOUT", "1.5s"),
        ]);
        let config = Config::from_env(&env).unwrap();
        let smtp = config.smtp.unwrap();
        assert_eq!(smtp.timeout(), Duration::from_millis(1500));
        assert_eq!(smtp.redacted_url(), "smtp://127.0.0.1:2525");
        assert_eq!(config.from.email.to_string(), "shop@example.com");
        for url in [
            "smtp://user:pass@mail.example.com:587?tls=required",
            "smtp://mail.example.com?tls=opportunistic",
            "smtps://user:pass@mail.example.com",
        ] {
            let env = Env::from_pairs([("SMTP_URL", url)]);
            assert!(Config::from_env(&env).is_ok(), "{url}");
        }
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (var, value) in [
            ("SMTP_URL", "http://mail.example.com"),
            ("SMTP_URL", "not a url"),
            ("SMTP_URL", "smtp://mail.example.com?tls=sometimes"),
            ("EMAIL_FROM", "not an address"),
            ("SMTP_TIMEOUT", "soon"),
            ("SMTP_TIMEOUT", "0"),
            ("PORT", "99999"),
        ] {
            let error = Config::from_env(&Env::from_pairs([(var, value)])).unwrap_err();
            assert_eq!(error.var, var, "{error}");
        }
    }

    #[test]
    fn never_shows_the_smtp_password() {
        let secret = "s3cr3t-Pa55";
        let url = format!("smtp://mailer:{secret}@mail.example.com:587?tls=sometimes");
        let error = Config::from_env(&Env::from_pairs([("SMTP_URL", url.as_str())])).unwrap_err();
        assert!(!error.to_string().contains(secret), "{error}");
        assert!(!format!("{error:?}").contains(secret), "{error:?}");

        let url = format!("smtp://mailer:{secret}@mail.example.com:587?tls=required");
        let config = Config::from_env(&Env::from_pairs([("SMTP_URL", url.as_str())])).unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains(secret), "{shown}");
        assert!(
            shown.contains("smtp://mailer:***@mail.example.com:587?tls=required"),
            "{shown}"
        );
    }

    #[test]
    fn redacts_only_the_password() {
        assert_eq!(redact_url("smtp://h:25"), "smtp://h:25");
        assert_eq!(redact_url("smtps://u:p@h"), "smtps://u:***@h");
        assert_eq!(
            redact_url("smtp://u@h/x?tls=required"),
            "smtp://u@h/x?tls=required"
        );
        assert_eq!(redact_url("smtp://u:p@h/x?a=b@c"), "smtp://u:***@h/x?a=b@c");
        assert_eq!(redact_url("smtp://u:p@ss@h:1"), "smtp://u:***@h:1");
        assert_eq!(redact_url("garbage"), "garbage");
    }
}
