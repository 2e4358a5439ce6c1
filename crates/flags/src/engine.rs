//! The flag engine of one source: the provider in force, replaced when the
//! source changes, shared by every service of the process that reads the
//! same source (so `boutique all` reads a file, or follows flagd, once).
//!
//! Every flag set, from a file or from flagd's sync stream, goes through
//! [`Engine::load`]: when it passes [`FlagFile::parse`] and flagd's own
//! parser, a provider for it takes over (one pointer swap, so an evaluation
//! sees the old flags or the new, never a mix); one that fails is logged and
//! the provider in force stays.
//!
//! A file is polled rather than watched with inotify: polling sees every way a
//! file changes (rename over, write in place, a Kubernetes ConfigMap's symlink
//! swap, network filesystems) and recovers from a file that is missing or
//! malformed at start. A flagd server is followed by [`crate::sync`].

use std::{
    collections::{HashMap, HashSet},
    fmt,
    sync::{
        Arc, Mutex, PoisonError, RwLock, Weak,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use open_feature::{EvaluationContext, provider::FeatureProvider};
use tokio_util::sync::CancellationToken;

use crate::{config::FlagsConfig, file::FlagFile, provider::FlagSetProvider, sync};

/// The provider name recorded with every evaluation.
pub const PROVIDER_NAME: &str = "flagd";

/// The provider in force and, for a file, the flags in it that may be on (any
/// other is answered off without asking the provider: an all-off file costs
/// what no file costs).
#[derive(Clone, Default)]
pub(crate) struct Snapshot {
    pub(crate) provider: Option<Arc<dyn FeatureProvider>>,
    pub(crate) known: Option<Arc<HashSet<String>>>,
}

impl Snapshot {
    /// Whether the provider may know `flag`.
    pub(crate) fn may_define(&self, flag: &str) -> bool {
        self.provider.is_some() && self.known.as_ref().is_none_or(|known| known.contains(flag))
    }
}

/// See the [module documentation](self).
pub(crate) struct Engine {
    snapshot: RwLock<Snapshot>,
    loaded: AtomicU64,
    refused: AtomicU64,
    streams: AtomicU64,
    /// Cancelled when the last service using the engine is gone, which ends
    /// its loader at once (a sync stream may be quiet for hours).
    stop: CancellationToken,
}

/// How a source has fared: versions taken, versions refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SourceStatus {
    /// Flag sets put in force (file versions, or configurations from flagd).
    pub loaded: u64,
    /// Flag sets refused (malformed, or a file unreadable); the flags in
    /// force stayed.
    pub refused: u64,
    /// Sync streams opened to a flagd server (the first, then each reconnect).
    pub streams: u64,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

type Registry = Mutex<HashMap<FlagsConfig, Weak<Engine>>>;

static ENGINES: std::sync::LazyLock<Registry> = std::sync::LazyLock::new(Registry::default);

impl Engine {
    /// The engine of `config` (shared with any other service of the process
    /// reading the same source), or `None` when no source is configured. Call
    /// inside the Tokio runtime: the engine's loader runs there.
    pub(crate) fn of(config: &FlagsConfig) -> Option<Arc<Self>> {
        if config.is_off() {
            return None;
        }
        let mut engines = ENGINES.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(engine) = engines.get(config).and_then(Weak::upgrade) {
            return Some(engine);
        }
        engines.retain(|_, engine| engine.strong_count() > 0);
        let engine = Arc::new(Self {
            snapshot: RwLock::new(Snapshot::default()),
            loaded: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            streams: AtomicU64::new(0),
            stop: CancellationToken::new(),
        });
        engines.insert(config.clone(), Arc::downgrade(&engine));
        let weak = Arc::downgrade(&engine);
        match config.clone() {
            FlagsConfig::File { path, poll } => {
                tokio::spawn(watch_file(weak, path.to_string_lossy().into_owned(), poll));
            }
            FlagsConfig::Server(server) => {
                tokio::spawn(sync::follow(weak, server, engine.stop.clone()));
            }
            FlagsConfig::Off => {}
        }
        Some(engine)
    }

    /// What evaluations use now.
    pub(crate) fn snapshot(&self) -> Snapshot {
        self.snapshot
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How the source has fared so far.
    pub(crate) fn status(&self) -> SourceStatus {
        SourceStatus {
            loaded: self.loaded.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            streams: self.streams.load(Ordering::Relaxed),
        }
    }

    /// Counts a sync stream opened.
    pub(crate) fn stream_opened(&self) {
        self.streams.fetch_add(1, Ordering::Relaxed);
    }

    /// Puts the flag set `bytes` from `source` in force, with `context`
    /// added to every evaluation; whether it was (a malformed set is logged
    /// and counted, and the flags in force stay).
    pub(crate) fn load(&self, source: &str, bytes: &[u8], context: EvaluationContext) -> bool {
        let (file, provider) = match check_flag_set(bytes) {
            Ok(checked) => checked,
            Err(error) => {
                self.refuse();
                tracing::warn!(source, error = %error, "The flag set is malformed; the flags in force stay.");
                return false;
            }
        };
        let known: HashSet<String> = file
            .flags
            .iter()
            .filter(|(_, flag)| flag.may_be_on())
            .map(|(name, _)| name.clone())
            .collect();
        tracing::info!(
            source,
            flags = file.flags.len(),
            may_be_on = known.len(),
            "Loaded the flags."
        );
        self.install(Snapshot {
            provider: Some(Arc::new(provider.with_static_context(context))),
            known: Some(Arc::new(known)),
        });
        true
    }

    fn install(&self, snapshot: Snapshot) {
        *self
            .snapshot
            .write()
            .unwrap_or_else(PoisonError::into_inner) = snapshot;
        self.loaded.fetch_add(1, Ordering::Relaxed);
    }

    fn refuse(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }
}

/// A flag set's bytes checked by [`FlagFile::parse`] and parsed by flagd's
/// own parser: what a set must pass to be put in force.
pub(crate) fn check_flag_set(bytes: &[u8]) -> Result<(FlagFile, FlagSetProvider), String> {
    let file = FlagFile::parse(bytes).map_err(|e| e.to_string())?;
    let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
    Ok((file, FlagSetProvider::parse(text)?))
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Polls the file at `path`; see the [module documentation](self). Ends
/// when the last service using the engine is gone.
async fn watch_file(engine: Weak<Engine>, path: String, poll: Duration) {
    let mut seen: Option<Result<Vec<u8>, std::io::ErrorKind>> = None;
    loop {
        let read = tokio::fs::read(&path).await.map_err(|e| e.kind());
        if seen.as_ref() != Some(&read) {
            let Some(engine) = engine.upgrade() else {
                return;
            };
            match &read {
                Ok(bytes) => {
                    engine.load(&path, bytes, EvaluationContext::default());
                }
                Err(kind) => {
                    engine.refuse();
                    tracing::warn!(
                        path = %path,
                        error = %std::io::Error::from(*kind),
                        "Cannot read the flag file; the flags in force stay."
                    );
                }
            }
            seen = Some(read);
        }
        tokio::time::sleep(poll).await;
        if engine.strong_count() == 0 {
            return;
        }
    }
}
