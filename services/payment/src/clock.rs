//! The source of "now" for expiry checks.
//!
//! Expiry depends on the current month, so tests need to pin it (a card that
//! expires this month must pass, last month's must not, across a year
//! boundary too). The service reads time only through [`Clock`].

use std::fmt;

use time::OffsetDateTime;

/// Tells the current time.
pub trait Clock: fmt::Debug + Send + Sync + 'static {
    /// The current instant; only its UTC year and month matter here.
    fn now(&self) -> OffsetDateTime;
}

/// The system clock, in UTC (upstream used server local time, which made the
/// expiry month depend on where the pod ran).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock stopped at one instant, for tests.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub OffsetDateTime);

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        self.0
    }
}
