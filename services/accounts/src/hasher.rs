//! Argon2id hashing behind a bulkhead.
//!
//! Each hash costs tens of milliseconds of one core and 19 MiB of memory
//! (OWASP's minimum: m=19456 KiB, t=2, p=1), so a flood of sign-ins could
//! take every core from the shop. Hashes therefore run on the blocking pool,
//! at most `concurrency` at a time; at most `queue` more wait, and beyond
//! that the caller is told to come back (RESOURCE_EXHAUSTED, `OVERLOADED`)
//! instead of queueing without bound. Work runs inside the caller's span, so
//! its time shows in the request's trace.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use argon2::{
    Algorithm, Argon2, Params, Version,
    password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash},
};
use tokio::sync::Semaphore;
use tracing::Instrument;

/// Argon2id's memory cost in KiB, its passes and its lanes: OWASP's minimum.
pub(crate) const M_COST_KIB: u32 = 19_456;
/// Passes over the memory.
pub(crate) const T_COST: u32 = 2;
/// Lanes.
pub(crate) const P_COST: u32 = 1;

/// Why a hash was not made.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HashError {
    /// The queue is full: the caller should retry shortly.
    #[error("too many password checks are waiting")]
    Overloaded,
    /// The hash could not be computed (a bug, or a stored hash we cannot read).
    #[error("password hashing failed: {0}")]
    Failed(String),
}

/// Hashes and verifies passwords, a bounded number at a time. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Hasher {
    argon: Arc<Argon2<'static>>,
    permits: Arc<Semaphore>,
    admitted: Arc<AtomicUsize>,
    capacity: usize,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

/// Counts a request as admitted for as long as it lives.
struct Admitted(Arc<AtomicUsize>);

impl Drop for Admitted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Hasher {
    /// At most `concurrency` hashes at a time and `queue` waiting.
    pub(crate) fn new(concurrency: usize, queue: usize) -> Self {
        let params = Params::new(M_COST_KIB, T_COST, P_COST, None)
            .expect("OWASP's parameters are valid Argon2 parameters");
        let concurrency = concurrency.max(1);
        Self {
            argon: Arc::new(Argon2::new(Algorithm::Argon2id, Version::V0x13, params)),
            permits: Arc::new(Semaphore::new(concurrency)),
            admitted: Arc::new(AtomicUsize::new(0)),
            capacity: concurrency + queue,
        }
    }

    /// The PHC string of `password` with a fresh random salt.
    pub(crate) async fn hash(&self, password: String) -> Result<String, HashError> {
        let argon = self.argon.clone();
        self.run(move || {
            argon
                .hash_password(password.as_bytes())
                .map(|hash| hash.to_string())
                .map_err(|e| HashError::Failed(e.to_string()))
        })
        .await
    }

    /// Whether `password` matches the PHC string `hash` (with the parameters
    /// recorded in it).
    pub(crate) async fn verify(&self, password: String, hash: String) -> Result<bool, HashError> {
        let argon = self.argon.clone();
        self.run(move || {
            let parsed = PasswordHash::new(&hash).map_err(|e| HashError::Failed(e.to_string()))?;
            Ok(argon.verify_password(password.as_bytes(), &parsed).is_ok())
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, HashError> + Send + 'static,
    ) -> Result<T, HashError> {
        if self.admitted.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            self.admitted.fetch_sub(1, Ordering::AcqRel);
            return Err(HashError::Overloaded);
        }
        let admitted = Admitted(self.admitted.clone());
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .instrument(tracing::debug_span!("waiting for a password hash slot"))
            .await
            .map_err(|e| HashError::Failed(e.to_string()))?;
        let span = tracing::Span::current();
        // The permit and the admission go with the work: a caller that gives
        // up does not free the slot while its hash still runs.
        let joined = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let _admitted = admitted;
            span.in_scope(work)
        })
        .await;
        joined.map_err(|e| HashError::Failed(e.to_string()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_carry_owasp_parameters() {
        let hasher = Hasher::new(2, 4);
        let hash = hasher.hash("correct horse".to_owned()).await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(
            hasher
                .verify("correct horse".to_owned(), hash.clone())
                .await
                .unwrap()
        );
        assert!(!hasher.verify("wrong horse".to_owned(), hash).await.unwrap());
    }

    #[tokio::test]
    async fn a_full_queue_is_refused_at_once() {
        let hasher = Hasher::new(1, 0);
        // Hold the only slot, as a running hash would.
        let _held = hasher.permits.clone().acquire_owned().await.unwrap();
        hasher.admitted.fetch_add(1, Ordering::AcqRel);
        let refused = hasher.verify("x".to_owned(), "y".to_owned()).await;
        assert!(matches!(refused, Err(HashError::Overloaded)), "{refused:?}");
    }
}
