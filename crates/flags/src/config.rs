//! Where flags come from, read from flagd's own environment variables (the
//! names and defaults of flagd's provider specification).
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `FLAGD_OFFLINE_FLAG_SOURCE_PATH` | a flagd flag-definition file, evaluated in process and reread when it changes; wins over a server | none |
//! | `FLAGD_OFFLINE_POLL_MS` | how often the file is checked for changes (ms, 100 to 60000) | `1000` |
//! | `FLAGD_HOST` | a flagd server, whose flags are synced and evaluated in process (flagd's in-process resolver) | `localhost` |
//! | `FLAGD_SYNC_PORT`, `FLAGD_PORT` | its sync port (`FLAGD_SYNC_PORT` first, as flagd's newer providers read it) | `8015` |
//! | `FLAGD_SOCKET_PATH` | flagd's sync service on a Unix socket instead (`flagd start --sync-socket-path`) | none |
//! | `FLAGD_RESOLVER` | `in-process` (the server mode), `file`/`offline` (needs the path); `rpc` is refused | `file` with a path, else `in-process` with a server variable |
//! | `FLAGD_SOURCE_SELECTOR`, `FLAGD_PROVIDER_ID` | which flags to sync (`flagSetId=boutique`), who asks | none |
//! | `FLAGD_DEADLINE_MS` | how long connecting and opening the stream may take (ms) | `500` |
//! | `FLAGD_STREAM_DEADLINE_MS` | how long one stream lives before it is reopened (ms, `0`: for ever) | `600000` |
//! | `FLAGD_RETRY_BACKOFF_MS`, `FLAGD_RETRY_BACKOFF_MAX_MS` | the first and the longest pause before reopening a stream that failed (ms) | `1000`, `12000` |
//! | `FLAGD_KEEP_ALIVE_TIME_MS` | HTTP/2 keep-alive pings on the connection (ms, `0`: none) | `0` |
//!
//! Refused as configuration errors, because this build cannot do them:
//! `FLAGD_RESOLVER=rpc` (each evaluation a call to flagd; the in-process
//! resolver gives the same flags with no call per evaluation),
//! `FLAGD_TLS=true` and `FLAGD_TARGET_URI` (custom name resolution). flagd's
//! rpc-only settings (`FLAGD_CACHE`, ...) are not read. With none of these
//! set, every flag is at its default (off) and nothing is evaluated.

use std::{path::PathBuf, time::Duration};

use boutique_platform::{ConfigError, Env, config::parse_flag};

/// The flag file variable (flagd's own name).
pub const OFFLINE_PATH_VAR: &str = "FLAGD_OFFLINE_FLAG_SOURCE_PATH";
/// How often the file is checked.
pub const POLL_VAR: &str = "FLAGD_OFFLINE_POLL_MS";
/// The flagd server's host.
pub const HOST_VAR: &str = "FLAGD_HOST";
/// The flagd server's port (flagd's older providers read it in every mode).
pub const PORT_VAR: &str = "FLAGD_PORT";
/// flagd's sync port (read before [`PORT_VAR`]).
pub const SYNC_PORT_VAR: &str = "FLAGD_SYNC_PORT";
/// flagd's sync service on a Unix socket.
pub const SOCKET_PATH_VAR: &str = "FLAGD_SOCKET_PATH";
/// How flags are resolved.
pub const RESOLVER_VAR: &str = "FLAGD_RESOLVER";
/// TLS to flagd (refused when on).
pub const TLS_VAR: &str = "FLAGD_TLS";
/// A custom gRPC target (refused).
pub const TARGET_URI_VAR: &str = "FLAGD_TARGET_URI";
/// Which flags to sync.
pub const SELECTOR_VAR: &str = "FLAGD_SOURCE_SELECTOR";
/// Who asks.
pub const PROVIDER_ID_VAR: &str = "FLAGD_PROVIDER_ID";
/// How long connecting and opening the stream may take.
pub const DEADLINE_VAR: &str = "FLAGD_DEADLINE_MS";
/// How long one stream lives.
pub const STREAM_DEADLINE_VAR: &str = "FLAGD_STREAM_DEADLINE_MS";
/// The first pause before reopening a failed stream.
pub const RETRY_BACKOFF_VAR: &str = "FLAGD_RETRY_BACKOFF_MS";
/// The longest pause before reopening a failed stream.
pub const RETRY_BACKOFF_MAX_VAR: &str = "FLAGD_RETRY_BACKOFF_MAX_MS";
/// HTTP/2 keep-alive.
pub const KEEP_ALIVE_VAR: &str = "FLAGD_KEEP_ALIVE_TIME_MS";

/// The default file check interval: changes show within about a second.
pub const DEFAULT_POLL: Duration = Duration::from_secs(1);
/// flagd's default sync port.
pub const DEFAULT_SYNC_PORT: u16 = 8015;

/// Where flags come from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum FlagsConfig {
    /// Nowhere: every flag at its default, at no cost.
    #[default]
    Off,
    /// A flag file, evaluated in process.
    File {
        /// The file.
        path: PathBuf,
        /// How often it is checked for changes.
        poll: Duration,
    },
    /// A flagd server's flags, synced over its sync stream and evaluated in
    /// process (flagd's in-process resolver).
    Server(Server),
}

/// How to reach a flagd server's sync service, and how to keep following it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Server {
    /// Where it listens.
    pub address: SyncAddress,
    /// Which flags to sync (`flagSetId=boutique`), sent as the `flagd-selector`
    /// header and in the request.
    pub selector: Option<String>,
    /// Who asks.
    pub provider_id: Option<String>,
    /// How long connecting and opening the stream may take.
    pub deadline: Duration,
    /// How long one stream lives before it is reopened (`None`: for ever).
    pub stream_deadline: Option<Duration>,
    /// The first pause before reopening a stream that failed; doubled per
    /// failure up to `retry_backoff_max`, jittered.
    pub retry_backoff: Duration,
    /// The longest pause.
    pub retry_backoff_max: Duration,
    /// HTTP/2 keep-alive pings (`None`: none).
    pub keep_alive: Option<Duration>,
}

/// Where flagd's sync service listens.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SyncAddress {
    /// `host:port`.
    Tcp {
        /// A name or an address (IPv6 with or without brackets).
        host: String,
        /// The sync port.
        port: u16,
    },
    /// A Unix socket.
    Unix(PathBuf),
}

impl std::fmt::Display for SyncAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Tcp { host, port } if host.contains(':') && !host.starts_with('[') => {
                write!(f, "[{host}]:{port}")
            }
            Self::Tcp { host, port } => write!(f, "{host}:{port}"),
            Self::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

impl FlagsConfig {
    /// Reads the variables in the [module table](self).
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let resolver = env
            .get(RESOLVER_VAR)
            .map(|value| match value.to_ascii_lowercase().as_str() {
                "in-process" | "inprocess" | "in_process" => Ok(Resolver::InProcess),
                "file" | "offline" => Ok(Resolver::File),
                "rpc" => Err(ConfigError::new(
                    RESOLVER_VAR,
                    value,
                    "the rpc resolver (a call to flagd per evaluation) is not supported by this \
                     build: use in-process (flagd's sync port, 8015), which gives the same flags \
                     evaluated here, or a flag file",
                )),
                _ => Err(ConfigError::new(
                    RESOLVER_VAR,
                    value,
                    "expected in-process, file or offline",
                )),
            })
            .transpose()?;
        if let Some(path) = env.get(OFFLINE_PATH_VAR).map(PathBuf::from) {
            // The file overrides a server, as in flagd's providers.
            return Ok(Self::File {
                path,
                poll: poll_interval(env)?,
            });
        }
        if resolver == Some(Resolver::File) {
            return Err(ConfigError::new(
                RESOLVER_VAR,
                env.get(RESOLVER_VAR).unwrap_or_default(),
                format!("the file resolver needs {OFFLINE_PATH_VAR}"),
            ));
        }
        let remote = [
            HOST_VAR,
            PORT_VAR,
            SYNC_PORT_VAR,
            SOCKET_PATH_VAR,
            TARGET_URI_VAR,
        ]
        .iter()
        .any(|var| env.get(var).is_some());
        if !remote && resolver.is_none() {
            return Ok(Self::Off);
        }
        Server::from_env(env).map(Self::Server)
    }

    /// Whether any flag source is configured.
    pub fn is_off(&self) -> bool {
        matches!(self, Self::Off)
    }
}

impl Server {
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        if let Some(uri) = env.get(TARGET_URI_VAR) {
            return Err(ConfigError::new(
                TARGET_URI_VAR,
                uri,
                format!(
                    "custom name resolution is not supported by this build: set {HOST_VAR} and \
                     {SYNC_PORT_VAR} (or {SOCKET_PATH_VAR})"
                ),
            ));
        }
        if env.parse_with(TLS_VAR, parse_flag)?.unwrap_or(false) {
            return Err(ConfigError::new(
                TLS_VAR,
                env.get(TLS_VAR).unwrap_or_default(),
                "TLS to flagd is not supported by this build: reach flagd's sync port in plain \
                 text (a sidecar, the cluster network, or a mesh's mTLS)",
            ));
        }
        let address = match env.get(SOCKET_PATH_VAR) {
            Some(path) => SyncAddress::Unix(path.into()),
            None => {
                let host = env.get(HOST_VAR).unwrap_or("localhost").to_owned();
                let port = match env.parse_with(SYNC_PORT_VAR, parse_port)? {
                    Some(port) => port,
                    None => env
                        .parse_with(PORT_VAR, parse_port)?
                        .unwrap_or(DEFAULT_SYNC_PORT),
                };
                let address = SyncAddress::Tcp { host, port };
                tonic::transport::Endpoint::from_shared(format!("http://{address}")).map_err(
                    |e| {
                        ConfigError::new(
                            HOST_VAR,
                            env.get(HOST_VAR).unwrap_or_default(),
                            format!("not a host: {e}"),
                        )
                    },
                )?;
                address
            }
        };
        let retry_backoff = millis(env, RETRY_BACKOFF_VAR, 1_000, 1)?;
        let retry_backoff_max = millis(env, RETRY_BACKOFF_MAX_VAR, 12_000, 1)?;
        if retry_backoff_max < retry_backoff {
            return Err(ConfigError::new(
                RETRY_BACKOFF_MAX_VAR,
                env.get(RETRY_BACKOFF_MAX_VAR)
                    .unwrap_or("12000 (the default)"),
                format!("must not be less than {RETRY_BACKOFF_VAR}"),
            ));
        }
        let nonzero = |d: Duration| (!d.is_zero()).then_some(d);
        Ok(Self {
            address,
            selector: env.get(SELECTOR_VAR).map(str::to_owned),
            provider_id: env.get(PROVIDER_ID_VAR).map(str::to_owned),
            deadline: millis(env, DEADLINE_VAR, 500, 1)?,
            stream_deadline: nonzero(millis(env, STREAM_DEADLINE_VAR, 600_000, 0)?),
            retry_backoff,
            retry_backoff_max,
            keep_alive: nonzero(millis(env, KEEP_ALIVE_VAR, 0, 0)?),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resolver {
    InProcess,
    File,
}

fn parse_port(value: &str) -> Result<u16, &'static str> {
    match value.parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err("expected a port, 1 to 65535"),
    }
}

/// `var` in milliseconds, from `min` to a day; `default` when unset.
fn millis(env: &Env, var: &str, default: u64, min: u64) -> Result<Duration, ConfigError> {
    const DAY_MS: u64 = 24 * 60 * 60 * 1000;
    let millis = env.parse_with(var, |value| match value.parse::<u64>() {
        Ok(ms) if (min..=DAY_MS).contains(&ms) => Ok(ms),
        _ => Err(format!("expected milliseconds, {min} to {DAY_MS}")),
    })?;
    Ok(Duration::from_millis(millis.unwrap_or(default)))
}

fn poll_interval(env: &Env) -> Result<Duration, ConfigError> {
    let millis = env.parse_with(POLL_VAR, |value| {
        let millis: u64 = value.parse().map_err(|_| "expected milliseconds")?;
        if (100..=60_000).contains(&millis) {
            Ok(millis)
        } else {
            Err("expected 100 to 60000 milliseconds")
        }
    })?;
    Ok(millis.map_or(DEFAULT_POLL, Duration::from_millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(env: &Env) -> Server {
        match FlagsConfig::from_env(env).unwrap() {
            FlagsConfig::Server(server) => server,
            other => panic!("a server, not {other:?}"),
        }
    }

    #[test]
    fn picks_the_source_as_flagd_does() {
        assert_eq!(
            FlagsConfig::from_env(&Env::default()).unwrap(),
            FlagsConfig::Off
        );
        let file = Env::from_pairs([(OFFLINE_PATH_VAR, "/etc/flags/f.json")]);
        assert_eq!(
            FlagsConfig::from_env(&file).unwrap(),
            FlagsConfig::File {
                path: "/etc/flags/f.json".into(),
                poll: DEFAULT_POLL
            }
        );
        // The file wins over a server, as in flagd's providers, even when
        // the resolver says in-process.
        let both = file
            .with(HOST_VAR, "flagd")
            .with(POLL_VAR, "250")
            .with(RESOLVER_VAR, "in-process");
        assert!(matches!(
            FlagsConfig::from_env(&both).unwrap(),
            FlagsConfig::File { poll, .. } if poll == Duration::from_millis(250)
        ));
        // A host alone means the in-process resolver on flagd's sync port.
        let flagd = server(&Env::from_pairs([(HOST_VAR, "flagd")]));
        assert_eq!(flagd.address.to_string(), "flagd:8015");
        assert_eq!(flagd.deadline, Duration::from_millis(500));
        assert_eq!(flagd.stream_deadline, Some(Duration::from_secs(600)));
        assert_eq!(
            (flagd.retry_backoff, flagd.retry_backoff_max),
            (Duration::from_secs(1), Duration::from_secs(12))
        );
        assert_eq!((flagd.selector, flagd.keep_alive), (None, None));
        let sync = server(&Env::from_pairs([(RESOLVER_VAR, "in-process")]));
        assert_eq!(sync.address.to_string(), "localhost:8015");
        // FLAGD_SYNC_PORT before FLAGD_PORT; IPv6 hosts get brackets.
        let ports = Env::from_pairs([(HOST_VAR, "::1"), (PORT_VAR, "9000")]);
        assert_eq!(server(&ports).address.to_string(), "[::1]:9000");
        let ports = ports.with(SYNC_PORT_VAR, "9015");
        assert_eq!(server(&ports).address.to_string(), "[::1]:9015");
        let socket = server(&Env::from_pairs([(SOCKET_PATH_VAR, "/run/flagd.sock")]));
        assert_eq!(socket.address, SyncAddress::Unix("/run/flagd.sock".into()));
        let tuned = server(&Env::from_pairs([
            (HOST_VAR, "flagd"),
            (SELECTOR_VAR, "flagSetId=boutique"),
            (PROVIDER_ID_VAR, "boutique"),
            (STREAM_DEADLINE_VAR, "0"),
            (RETRY_BACKOFF_VAR, "50"),
            (RETRY_BACKOFF_MAX_VAR, "200"),
            (KEEP_ALIVE_VAR, "30000"),
            (TLS_VAR, "false"),
        ]));
        assert_eq!(tuned.selector.as_deref(), Some("flagSetId=boutique"));
        assert_eq!(tuned.provider_id.as_deref(), Some("boutique"));
        assert_eq!(tuned.stream_deadline, None);
        assert_eq!(tuned.retry_backoff_max, Duration::from_millis(200));
        assert_eq!(tuned.keep_alive, Some(Duration::from_secs(30)));
    }

    #[test]
    fn names_the_bad_variable() {
        for (var, value) in [
            (RESOLVER_VAR, "rest"),
            (RESOLVER_VAR, "file"),
            (RESOLVER_VAR, "rpc"),
            (PORT_VAR, "http"),
            (SYNC_PORT_VAR, "0"),
            (TLS_VAR, "maybe"),
            (TLS_VAR, "true"),
            (TARGET_URI_VAR, "envoy://localhost:9211/flagd-sync.service"),
            (HOST_VAR, "a host"),
            (DEADLINE_VAR, "0"),
            (RETRY_BACKOFF_MAX_VAR, "10"),
            (STREAM_DEADLINE_VAR, "-1"),
        ] {
            let env = Env::from_pairs([(HOST_VAR, "flagd"), (var, value)]);
            let error = FlagsConfig::from_env(&env).unwrap_err();
            assert_eq!(error.var, var, "{var}={value}");
        }
        let env = Env::from_pairs([(OFFLINE_PATH_VAR, "f.json"), (POLL_VAR, "5")]);
        assert_eq!(FlagsConfig::from_env(&env).unwrap_err().var, POLL_VAR);
        // rpc is refused even with a file, so the mistake is seen.
        let env = Env::from_pairs([(OFFLINE_PATH_VAR, "f.json"), (RESOLVER_VAR, "rpc")]);
        let error = FlagsConfig::from_env(&env).unwrap_err();
        assert!(error.to_string().contains("in-process"), "{error}");
    }
}
