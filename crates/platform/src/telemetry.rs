//! Logging through `tracing`: JSON lines when stdout is not a terminal (as in a
//! container, for Loki and friends), human-readable text on a terminal.
//!
//! Settings: `LOG_LEVEL` or `RUST_LOG` (an `EnvFilter`, default `info`), and
//! `LOG_FORMAT` = `json` | `text` to override the terminal check.

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::{ConfigError, Env};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Aligned, coloured text for people.
    Text,
}

/// Logging settings.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// The filter directive, e.g. `info,boutique_cart=debug`.
    pub filter: String,
    /// The line format.
    pub format: LogFormat,
}

impl LogConfig {
    /// Reads `LOG_LEVEL`/`RUST_LOG` and `LOG_FORMAT`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let filter = env
            .get("LOG_LEVEL")
            .or_else(|| env.get("RUST_LOG"))
            .unwrap_or("info")
            .to_owned();
        // Validate now so a typo is a startup error, not silence.
        EnvFilter::try_new(&filter).map_err(|e| ConfigError::new("LOG_LEVEL", &filter, e))?;
        let format = env
            .parse_with("LOG_FORMAT", |v| match v.to_ascii_lowercase().as_str() {
                "json" => Ok(LogFormat::Json),
                "text" => Ok(LogFormat::Text),
                _ => Err("expected json or text"),
            })?
            .unwrap_or(if std::io::stdout().is_terminal() {
                LogFormat::Text
            } else {
                LogFormat::Json
            });
        Ok(Self { filter, format })
    }
}

/// Installs the global subscriber. Call once, early in `main`.
pub fn init(config: &LogConfig) {
    let filter = EnvFilter::try_new(&config.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    match config.format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(false),
            )
            .init(),
        LogFormat::Text => registry.with(fmt::layer().with_target(false)).init(),
    }
}
