//! Failure flags: faults switched on and off at run time, through OpenFeature
//! with flagd's provider, compatible with the OpenTelemetry demo's flag file.
//!
//! A service reads a [`FlagsConfig`] with its settings ([`FlagsConfig::from_env`],
//! flagd's own variables), makes its [`Flags`] when it is built
//! ([`Flags::new`]) and asks them where a fault may apply:
//!
//! ```text
//! if flags.bool(names::AD_FAILURE).await && rand::random_ratio(1, 10) { ... }
//! if flags.fraction(names::PAYMENT_FAILURE).await { return Err(...) }
//! ```
//!
//! - [`names`]: every flag's name, and the catalogue the docs and the
//!   repository's flag file are checked against.
//! - [`config`]: where flags come from (a file, a flagd server, or nowhere).
//! - [`file`](mod@file): the flag file's check, so a malformed file (or a malformed
//!   configuration from flagd) never replaces good flags.
//! - `sync`: a flagd server's flags, followed over flagd's sync stream and
//!   evaluated here (flagd's in-process resolver); [`proto`] is its protocol.
//! - [`faults`]: the per-service latency and error flags, as the platform's
//!   [`FaultSource`](boutique_platform::faults::FaultSource) for its gRPC layer.
//! - [`record`]: each evaluation on the current span and in a metric.
//! - [`leak`]: a bounded memory leak for the flags that hoard memory.
//!
//! With no source configured, [`Flags`] holds nothing and every evaluation
//! returns the default at once: no provider, no allocation, no recording.
//! With a file or a flagd server, a flag the flags in force do not define
//! (or define as off, with no targeting) is answered the same way;
//! the others cost one provider evaluation (about 1 µs, 8 µs with targeting,
//! in a debug build: `tests/cost.rs` prints the figures, docs/flags.md has them).

pub mod config;
mod engine;
pub mod faults;
pub mod file;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod leak;
pub mod names;
mod provider;
pub mod record;
mod sync;

/// flagd's sync protocol (`flagd.sync.v1`, from `proto/flagd/sync/v1`):
/// the client Boutique follows a flagd server with, and the server side, for
/// tests that stand in for flagd.
#[allow(
    clippy::all,
    clippy::pedantic,
    rust_2018_idioms,
    unreachable_pub,
    missing_debug_implementations
)]
pub mod proto {
    tonic::include_proto!("flagd.sync.v1");
}

use std::{fmt, sync::Arc};

use boutique_platform::Telemetry;
use open_feature::{EvaluationContext, EvaluationError, provider::ResolutionDetails};

pub use config::FlagsConfig;
pub use engine::{PROVIDER_NAME, SourceStatus};
pub use faults::FlagFaults;
pub use file::{FlagFile, FlagFileError};
pub use record::Evaluation;

use crate::{engine::Engine, record::Recorder};

/// One service's flags; cheap to clone.
#[derive(Clone)]
pub struct Flags {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    engine: Arc<Engine>,
    recorder: Recorder,
}

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Flags")
            .field("configured", &self.inner.is_some())
            .finish()
    }
}

impl Flags {
    /// The flags of `telemetry`'s service from `config`'s source (shared with
    /// the process's other services reading it). Never fails: a source that
    /// cannot be read yet is logged and retried, with every flag at its
    /// default meanwhile. Call inside the Tokio runtime.
    pub fn new(config: &FlagsConfig, telemetry: &Telemetry) -> Self {
        Self {
            inner: Engine::of(config).map(|engine| {
                Arc::new(Inner {
                    engine,
                    recorder: Recorder::new(telemetry),
                })
            }),
        }
    }

    /// Every flag at its default, always.
    pub fn off() -> Self {
        Self { inner: None }
    }

    /// Whether a flag source is configured.
    pub fn is_configured(&self) -> bool {
        self.inner.is_some()
    }

    /// How the flag source has fared (`None` without one): for tests and
    /// diagnostics.
    pub fn source_status(&self) -> Option<SourceStatus> {
        self.inner.as_ref().map(|inner| inner.engine.status())
    }

    /// The boolean flag `flag` (default `false`).
    pub async fn bool(&self, flag: &str) -> bool {
        self.bool_in(flag, &[]).await
    }

    /// The boolean flag `flag` evaluated with `context` (flagd targeting
    /// reads these as `{"var": name}`).
    pub async fn bool_in(&self, flag: &str, context: &[(&str, &str)]) -> bool {
        let Some(inner) = &self.inner else {
            return false;
        };
        let snapshot = inner.engine.snapshot();
        let Some(provider) = snapshot
            .provider
            .filter(|_| snapshot.known.as_ref().is_none_or(|k| k.contains(flag)))
        else {
            return false;
        };
        let result = provider
            .resolve_bool_value(flag, &evaluation_context(context))
            .await;
        inner.settle(flag, result, false)
    }

    /// The number flag `flag` (default `0`).
    pub async fn number(&self, flag: &str) -> f64 {
        self.number_in(flag, &[]).await
    }

    /// The number flag `flag` evaluated with `context`.
    pub async fn number_in(&self, flag: &str, context: &[(&str, &str)]) -> f64 {
        let Some(inner) = &self.inner else {
            return 0.0;
        };
        let snapshot = inner.engine.snapshot();
        let Some(provider) = snapshot
            .provider
            .filter(|_| snapshot.known.as_ref().is_none_or(|k| k.contains(flag)))
        else {
            return 0.0;
        };
        let result = provider
            .resolve_float_value(flag, &evaluation_context(context))
            .await;
        let value = inner.settle(flag, result, 0.0);
        if value.is_finite() { value } else { 0.0 }
    }

    /// Whether this call is hit by the fraction flag `flag` (a number from 0
    /// to 1: `0.25` hits about one call in four; `1` every call).
    pub async fn fraction(&self, flag: &str) -> bool {
        hits(self.number(flag).await)
    }
}

/// Whether a call is hit at rate `fraction` (clamped to 0..1).
pub fn hits(fraction: f64) -> bool {
    if fraction >= 1.0 {
        true
    } else if fraction > 0.0 {
        rand::random_bool(fraction)
    } else {
        false
    }
}

impl Inner {
    /// Records the outcome and returns the value to use.
    fn settle<T>(
        &self,
        flag: &str,
        result: Result<ResolutionDetails<T>, EvaluationError>,
        default: T,
    ) -> T {
        match result {
            Ok(details) => {
                self.recorder.record(&Evaluation {
                    flag,
                    variant: details.variant.as_deref(),
                    reason: details.reason.as_ref().map(ToString::to_string),
                    error: None,
                });
                details.value
            }
            Err(error) => {
                tracing::debug!(flag, error = %error.code, "A flag evaluation failed; its default is used.");
                self.recorder.record(&Evaluation {
                    flag,
                    variant: None,
                    reason: Some("ERROR".to_owned()),
                    error: Some(error.code.to_string()),
                });
                default
            }
        }
    }
}

pub(crate) fn evaluation_context(pairs: &[(&str, &str)]) -> EvaluationContext {
    pairs
        .iter()
        .fold(EvaluationContext::default(), |context, &(key, value)| {
            context.with_custom_field(key, value)
        })
}
