//! A circuit breaker: the state machine alone, with no I/O, so its timing is
//! tested with a paused clock.
//!
//! Closed, it counts consecutive failures; at the threshold it opens. Open,
//! it refuses every call until its time is up; then the next call is let
//! through as the one probe (half-open) while the others are still refused.
//! The probe's success closes it, its failure opens it again, and a probe
//! that ends with neither (its caller went away) lets the next call probe.
//! Outcomes of calls admitted before a transition change nothing after it: a
//! slow success from before the breaker opened must not close it.
//!
//! A closed breaker with no failures answers from two atomics, so the happy
//! path takes no lock.

use std::{
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicU8, AtomicU32, Ordering},
    },
    time::Duration,
};

use tokio::time::Instant;

/// Where a breaker stands; the value is the `boutique_client_breaker_state` gauge's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls pass.
    Closed = 0,
    /// One probe is allowed through.
    HalfOpen = 1,
    /// Calls are refused at once.
    Open = 2,
}

impl BreakerState {
    /// The name logs use.
    pub fn name(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::HalfOpen => "half-open",
            Self::Open => "open",
        }
    }

    fn from_u8(value: u8) -> Self {
        match value {
            0 => Self::Closed,
            1 => Self::HalfOpen,
            _ => Self::Open,
        }
    }
}

/// Whether a call may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// It may; `probe` when it is the half-open breaker's one probe.
    Admitted { probe: bool },
    /// The breaker is open (or half-open with its probe in flight).
    Rejected,
}

/// How a call ended, for the breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The dependency answered (with any status that is not its failure).
    Success,
    /// The dependency failed or could not be reached in time.
    Failure,
    /// The caller went away before the deadline: says nothing of the dependency.
    Abandoned,
}

/// A change of state, to be logged and put on the gauge once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Transition {
    pub(crate) from: BreakerState,
    pub(crate) to: BreakerState,
}

/// See the [module](self).
#[derive(Debug)]
pub(crate) struct Breaker {
    /// Consecutive failures that open it; 0: never opens.
    threshold: u32,
    open_for: Duration,
    /// Mirrors `inner.state`, read without the lock.
    state: AtomicU8,
    /// Mirrors the closed breaker's failure count, read without the lock.
    failures: AtomicU32,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: BreakerState,
    /// Closed: consecutive failures so far.
    failures: u32,
    /// Open: until when.
    open_until: Instant,
    /// Half-open: whether the probe is in flight.
    probing: bool,
}

impl Breaker {
    pub(crate) fn new(threshold: u32, open_for: Duration) -> Self {
        Self {
            threshold,
            open_for,
            state: AtomicU8::new(BreakerState::Closed as u8),
            failures: AtomicU32::new(0),
            inner: Mutex::new(Inner {
                state: BreakerState::Closed,
                failures: 0,
                open_until: Instant::now(),
                probing: false,
            }),
        }
    }

    /// The current state.
    pub(crate) fn state(&self) -> BreakerState {
        BreakerState::from_u8(self.state.load(Ordering::Acquire))
    }

    /// Whether a call may go ahead now.
    pub(crate) fn admit(&self) -> (Admission, Option<Transition>) {
        if self.threshold == 0 || self.state() == BreakerState::Closed {
            return (Admission::Admitted { probe: false }, None);
        }
        let mut inner = self.lock();
        match inner.state {
            BreakerState::Closed => (Admission::Admitted { probe: false }, None),
            BreakerState::Open if Instant::now() < inner.open_until => (Admission::Rejected, None),
            BreakerState::Open => {
                inner.probing = true;
                let transition = self.set(&mut inner, BreakerState::HalfOpen);
                (Admission::Admitted { probe: true }, transition)
            }
            BreakerState::HalfOpen if inner.probing => (Admission::Rejected, None),
            BreakerState::HalfOpen => {
                inner.probing = true;
                (Admission::Admitted { probe: true }, None)
            }
        }
    }

    /// Records how an admitted call ended.
    pub(crate) fn record(&self, probe: bool, outcome: Outcome) -> Option<Transition> {
        if self.threshold == 0 {
            return None;
        }
        // The happy path: closed, nothing to forget.
        if outcome != Outcome::Failure
            && !probe
            && self.state() == BreakerState::Closed
            && self.failures.load(Ordering::Relaxed) == 0
        {
            return None;
        }
        let mut inner = self.lock();
        match (inner.state, outcome) {
            (BreakerState::Closed, Outcome::Success) => {
                inner.failures = 0;
                self.failures.store(0, Ordering::Relaxed);
                None
            }
            (BreakerState::Closed, Outcome::Failure) => {
                inner.failures += 1;
                self.failures.store(inner.failures, Ordering::Relaxed);
                if inner.failures >= self.threshold {
                    self.open(&mut inner)
                } else {
                    None
                }
            }
            (BreakerState::HalfOpen, Outcome::Success) if probe => {
                self.set(&mut inner, BreakerState::Closed)
            }
            (BreakerState::HalfOpen, Outcome::Failure) if probe => self.open(&mut inner),
            (BreakerState::HalfOpen, Outcome::Abandoned) if probe => {
                inner.probing = false;
                None
            }
            // Calls admitted before the last transition say nothing about now.
            _ => None,
        }
    }

    fn open(&self, inner: &mut Inner) -> Option<Transition> {
        inner.open_until = Instant::now() + self.open_for;
        self.set(inner, BreakerState::Open)
    }

    fn set(&self, inner: &mut Inner, to: BreakerState) -> Option<Transition> {
        let from = inner.state;
        inner.state = to;
        inner.failures = 0;
        inner.probing = to == BreakerState::HalfOpen && inner.probing;
        self.failures.store(0, Ordering::Relaxed);
        self.state.store(to as u8, Ordering::Release);
        (from != to).then_some(Transition { from, to })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The state is consistent after every statement, so a panic elsewhere
        // while holding the lock leaves nothing half-done.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN_FOR: Duration = Duration::from_secs(1);

    fn fail(breaker: &Breaker, times: u32) -> Vec<Transition> {
        (0..times)
            .filter_map(|_| {
                assert_eq!(breaker.admit().0, Admission::Admitted { probe: false });
                breaker.record(false, Outcome::Failure)
            })
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn opens_after_consecutive_failures_only() {
        let breaker = Breaker::new(3, OPEN_FOR);
        assert!(fail(&breaker, 2).is_empty());
        breaker.record(false, Outcome::Success);
        assert!(
            fail(&breaker, 2).is_empty(),
            "a success starts the count again"
        );
        assert_eq!(breaker.state(), BreakerState::Closed);
        let opened = fail(&breaker, 1);
        assert_eq!(
            opened,
            [Transition {
                from: BreakerState::Closed,
                to: BreakerState::Open
            }]
        );
        assert_eq!(breaker.admit(), (Admission::Rejected, None));
    }

    #[tokio::test(start_paused = true)]
    async fn lets_one_probe_through_when_its_time_is_up() {
        let breaker = Breaker::new(1, OPEN_FOR);
        fail(&breaker, 1);
        tokio::time::advance(OPEN_FOR - Duration::from_millis(1)).await;
        assert_eq!(breaker.admit().0, Admission::Rejected);
        tokio::time::advance(Duration::from_millis(1)).await;
        let (admission, transition) = breaker.admit();
        assert_eq!(admission, Admission::Admitted { probe: true });
        assert_eq!(transition.unwrap().to, BreakerState::HalfOpen);
        assert_eq!(
            breaker.admit().0,
            Admission::Rejected,
            "one probe at a time"
        );
        // A success of a call admitted before it opened changes nothing.
        assert_eq!(breaker.record(false, Outcome::Success), None);
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        let closed = breaker.record(true, Outcome::Success).unwrap();
        assert_eq!(closed.to, BreakerState::Closed);
        assert_eq!(breaker.admit().0, Admission::Admitted { probe: false });
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_probe_opens_it_again_and_an_abandoned_one_frees_the_slot() {
        let breaker = Breaker::new(2, OPEN_FOR);
        fail(&breaker, 2);
        tokio::time::advance(OPEN_FOR).await;
        assert_eq!(breaker.admit().0, Admission::Admitted { probe: true });
        assert_eq!(breaker.record(true, Outcome::Abandoned), None);
        assert_eq!(breaker.admit().0, Admission::Admitted { probe: true });
        let reopened = breaker.record(true, Outcome::Failure).unwrap();
        assert_eq!(reopened.to, BreakerState::Open);
        assert_eq!(breaker.admit().0, Admission::Rejected);
        tokio::time::advance(OPEN_FOR).await;
        assert_eq!(breaker.admit().0, Admission::Admitted { probe: true });
    }

    #[tokio::test(start_paused = true)]
    async fn a_zero_threshold_never_opens() {
        let breaker = Breaker::new(0, OPEN_FOR);
        for _ in 0..100 {
            assert_eq!(breaker.admit().0, Admission::Admitted { probe: false });
            assert_eq!(breaker.record(false, Outcome::Failure), None);
        }
        assert_eq!(breaker.state(), BreakerState::Closed);
    }
}
