//! Where flags come from, read from flagd's own environment variables.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `FLAGD_OFFLINE_FLAG_SOURCE_PATH` | a flagd flag-definition file, evaluated in process and reread when it changes | none |
//! | `FLAGD_OFFLINE_POLL_MS` | how often the file is checked for changes (ms, 100 to 60000) | `1000` |
//! | `FLAGD_HOST`, `FLAGD_PORT` | a flagd server (used when no file is set) | `localhost`, `8013` (`8015` in process) |
//! | `FLAGD_RESOLVER` | `rpc` (evaluate at flagd) or `in-process` (sync flagd's flags, evaluate here); `file`/`offline` with the path | `file` with a path, else `rpc` |
//! | `FLAGD_TLS`, `FLAGD_TARGET_URI`, `FLAGD_SOCKET_PATH` | TLS to flagd, a custom target, a Unix socket (rpc) | off |
//! | `FLAGD_CACHE_TTL` | seconds an rpc answer that does not depend on the context is reused | `5` |
//!
//! The provider reads flagd's remaining variables (`FLAGD_DEADLINE_MS`,
//! `FLAGD_SERVER_CERT_PATH`, `FLAGD_RETRY_*`, ...) itself. With none of
//! these set, every flag is at its default (off) and nothing is evaluated.

use std::{path::PathBuf, time::Duration};

use boutique_platform::{ConfigError, Env, config::parse_flag};

/// The flag file variable (flagd's own name).
pub const OFFLINE_PATH_VAR: &str = "FLAGD_OFFLINE_FLAG_SOURCE_PATH";
/// How often the file is checked.
pub const POLL_VAR: &str = "FLAGD_OFFLINE_POLL_MS";
/// The flagd server's host.
pub const HOST_VAR: &str = "FLAGD_HOST";
/// The flagd server's port.
pub const PORT_VAR: &str = "FLAGD_PORT";
/// How flags are resolved.
pub const RESOLVER_VAR: &str = "FLAGD_RESOLVER";

/// The default file check interval: changes show within about a second.
pub const DEFAULT_POLL: Duration = Duration::from_secs(1);

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
    /// A flagd server.
    Server(Server),
}

/// How to reach a flagd server.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Server {
    /// Its host.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// Evaluate here from flagd's sync stream rather than asking flagd each time.
    pub in_process: bool,
    /// TLS.
    pub tls: bool,
    /// A custom target URI (`envoy://...`).
    pub target_uri: Option<String>,
    /// A Unix socket (rpc only).
    pub socket_path: Option<String>,
    /// How long context-free rpc answers are reused.
    pub cache_ttl: Duration,
}

impl FlagsConfig {
    /// Reads the variables in the [module table](self).
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let resolver = env
            .get(RESOLVER_VAR)
            .map(|value| match value.to_ascii_lowercase().as_str() {
                "rpc" => Ok(Resolver::Rpc),
                "in-process" | "inprocess" => Ok(Resolver::InProcess),
                "file" | "offline" => Ok(Resolver::File),
                _ => Err(ConfigError::new(
                    RESOLVER_VAR,
                    value,
                    "expected rpc, in-process, file or offline",
                )),
            })
            .transpose()?;
        let path = env.get(OFFLINE_PATH_VAR).map(PathBuf::from);
        match (resolver, path) {
            (None | Some(Resolver::File), Some(path)) => Ok(Self::File {
                path,
                poll: poll_interval(env)?,
            }),
            (Some(Resolver::File), None) => Err(ConfigError::new(
                RESOLVER_VAR,
                env.get(RESOLVER_VAR).unwrap_or_default(),
                format!("the file resolver needs {OFFLINE_PATH_VAR}"),
            )),
            (resolver, _) => {
                let remote = [HOST_VAR, PORT_VAR, "FLAGD_TARGET_URI", "FLAGD_SOCKET_PATH"]
                    .iter()
                    .any(|var| env.get(var).is_some());
                if !remote && resolver.is_none() {
                    return Ok(Self::Off);
                }
                let in_process = resolver == Some(Resolver::InProcess);
                let default_port = if in_process { 8015 } else { 8013 };
                Ok(Self::Server(Server {
                    host: env.get(HOST_VAR).unwrap_or("localhost").to_owned(),
                    port: env.parse_or(PORT_VAR, default_port)?,
                    in_process,
                    tls: env.parse_with("FLAGD_TLS", parse_flag)?.unwrap_or(false),
                    target_uri: env.get("FLAGD_TARGET_URI").map(str::to_owned),
                    socket_path: env.get("FLAGD_SOCKET_PATH").map(str::to_owned),
                    cache_ttl: Duration::from_secs(env.parse_or("FLAGD_CACHE_TTL", 5)?),
                }))
            }
        }
    }

    /// Whether any flag source is configured.
    pub fn is_off(&self) -> bool {
        matches!(self, Self::Off)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resolver {
    Rpc,
    InProcess,
    File,
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
        // The file wins over a server, as in flagd's providers.
        let both = file.with(HOST_VAR, "flagd").with(POLL_VAR, "250");
        assert!(matches!(
            FlagsConfig::from_env(&both).unwrap(),
            FlagsConfig::File { poll, .. } if poll == Duration::from_millis(250)
        ));
        let server = Env::from_pairs([(HOST_VAR, "flagd")]);
        let FlagsConfig::Server(server) = FlagsConfig::from_env(&server).unwrap() else {
            panic!("a server");
        };
        assert_eq!((server.host.as_str(), server.port), ("flagd", 8013));
        assert!(!server.in_process);
        let sync = Env::from_pairs([(RESOLVER_VAR, "in-process")]);
        let FlagsConfig::Server(sync) = FlagsConfig::from_env(&sync).unwrap() else {
            panic!("a server");
        };
        assert_eq!((sync.host.as_str(), sync.port), ("localhost", 8015));
        assert!(sync.in_process);
    }

    #[test]
    fn names_the_bad_variable() {
        for (var, value) in [
            (RESOLVER_VAR, "rest"),
            (RESOLVER_VAR, "file"),
            (PORT_VAR, "http"),
            ("FLAGD_TLS", "maybe"),
        ] {
            let env = Env::from_pairs([(HOST_VAR, "flagd"), (var, value)]);
            let error = FlagsConfig::from_env(&env).unwrap_err();
            assert_eq!(error.var, var, "{var}={value}");
        }
        let env = Env::from_pairs([(OFFLINE_PATH_VAR, "f.json"), (POLL_VAR, "5")]);
        assert_eq!(FlagsConfig::from_env(&env).unwrap_err().var, POLL_VAR);
    }
}
