//! Readiness that reflects what a service needs, and liveness that does not.
//!
//! Every gRPC server answers `grpc.health.v1` for three kinds of name:
//! - [`LIVENESS`] (`"liveness"`): SERVING from bind to exit, whatever the
//!   dependencies do, so a liveness probe restarts only a process that no
//!   longer answers at all (a store that is down is not fixed by a restart);
//! - `""` and each service's name: readiness. SERVING while the server runs
//!   and every check reported through [`Readiness`] passes; NOT_SERVING
//!   before it runs, while a check fails, and from the start of the drain.
//!
//! Kubernetes probes name the service: `grpc: {port, service: liveness}` for
//! liveness, the default `""` for readiness.
//!
//! A server whose port is shared with another process (`REUSE_PORT`, see
//! [`crate::listen`]) also reports its readiness as [`process_name`]
//! (`process/<pid>`): a probe through the shared port may reach either
//! process, and only this name tells the new one of a rolling restart from
//! the old one (which answers it NOT_FOUND). It follows what is reported
//! through [`Readiness`], like the other readiness names.

use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex, PoisonError},
};

use tonic_health::{ServingStatus, server::HealthReporter};

/// The health name a liveness probe asks for.
pub const LIVENESS: &str = "liveness";

/// The health name under which the process `pid` reports its readiness when
/// its port is shared.
pub fn process_name(pid: u32) -> String {
    format!("process/{pid}")
}

/// The hook a service reports its own readiness through (its database
/// unreachable, say); cheap to clone.
#[derive(Clone)]
pub struct Readiness {
    reporter: HealthReporter,
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readiness").finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct State {
    /// The names readiness is reported under ("" and each service's).
    names: Vec<String>,
    /// The checks failing now.
    failing: BTreeSet<&'static str>,
    /// Between the start of serving and the start of the drain.
    running: bool,
}

impl Readiness {
    pub(crate) fn new(reporter: HealthReporter) -> Self {
        Self {
            reporter,
            state: Arc::default(),
        }
    }

    /// Reports whether `check` passes; the service is ready while every check
    /// does. Only changes are logged. Liveness is never touched.
    pub async fn report(&self, check: &'static str, ready: bool) {
        let changed = {
            let mut state = self.lock();
            if ready {
                state.failing.remove(check)
            } else {
                state.failing.insert(check)
            }
        };
        if changed {
            if ready {
                tracing::info!(check, "Readiness check passes again.");
            } else {
                tracing::warn!(check, "Readiness check fails; reporting NOT_SERVING.");
            }
            self.publish().await;
        }
    }

    /// Whether the service reports ready now.
    pub fn is_ready(&self) -> bool {
        let state = self.lock();
        state.running && state.failing.is_empty()
    }

    pub(crate) async fn start(&self, names: Vec<String>) {
        {
            let mut state = self.lock();
            state.names = names;
            state.running = true;
        }
        self.publish().await;
    }

    pub(crate) async fn stop(&self) {
        self.lock().running = false;
        self.publish().await;
    }

    async fn publish(&self) {
        let (names, status) = {
            let state = self.lock();
            let status = if state.running && state.failing.is_empty() {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            };
            (state.names.clone(), status)
        };
        for name in names {
            self.reporter.set_service_status(name, status).await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
