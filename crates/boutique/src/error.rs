//! Why the binary stopped: bad configuration (exit 64) or anything else (exit 1).

use boutique_platform::ConfigError;

/// Why a command failed.
#[derive(Debug)]
pub(crate) enum LaunchError {
    /// A setting is wrong: the process exits with code 64, naming it.
    Config(ConfigError),
    /// Anything else: logged with its cause chain, exit 1.
    Failed(anyhow::Error),
}

impl From<ConfigError> for LaunchError {
    fn from(error: ConfigError) -> Self {
        Self::Config(error)
    }
}

impl From<anyhow::Error> for LaunchError {
    fn from(error: anyhow::Error) -> Self {
        Self::Failed(error)
    }
}

impl LaunchError {
    /// Wraps any other error.
    pub(crate) fn failed(error: impl Into<anyhow::Error>) -> Self {
        Self::Failed(error.into())
    }
}
