//! Throttled password checks, counted in the database so every replica sees
//! the same counts.
//!
//! Failures are counted per email and per client address over a sliding
//! window; at the limit, checks are refused until enough failures leave the
//! window. The email is counted whether or not it has an account, so the
//! throttle tells an attacker nothing about which emails exist. Subjects are
//! kept as SHA-256 digests: a mistyped password pasted into the email field
//! is never stored as text.

use std::time::Duration;

use boutique_store::{AccountBook, StoreError};

use crate::metrics::By;

/// How failed password checks are limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// How far back failures count.
    pub window: Duration,
    /// Failures of one email allowed in the window (0: no limit).
    pub per_email: u32,
    /// Failures from one client address allowed in the window (0: no limit).
    pub per_address: u32,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(15 * 60),
            per_email: 5,
            per_address: 20,
        }
    }
}

/// The throttle over the failure table.
#[derive(Debug, Clone)]
pub(crate) struct Throttle {
    book: AccountBook,
    config: ThrottleConfig,
}

/// A refused check: what it was counted on, and until when (ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refused {
    pub(crate) by: By,
    pub(crate) until_ms: i64,
}

fn digest(value: &str) -> String {
    let hash = ring::digest::digest(&ring::digest::SHA256, value.as_bytes());
    hash.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

impl Throttle {
    pub(crate) fn new(book: AccountBook, config: ThrottleConfig) -> Self {
        Self { book, config }
    }

    pub(crate) fn window_ms(&self) -> i64 {
        i64::try_from(self.config.window.as_millis()).unwrap_or(i64::MAX)
    }

    /// The subjects a check counts against, with their limits.
    fn subjects(&self, email_key: &str, address: Option<&str>) -> Vec<(By, String, u32)> {
        let mut subjects = vec![(By::Email, digest(email_key), self.config.per_email)];
        if let Some(address) = address {
            subjects.push((By::Address, digest(address), self.config.per_address));
        }
        subjects
    }

    /// `Some` when a check for `email_key` from `address` must be refused now.
    pub(crate) async fn check(
        &self,
        email_key: &str,
        address: Option<&str>,
        now_ms: i64,
    ) -> Result<Option<Refused>, StoreError> {
        let window = self.window_ms();
        let mut refused: Option<Refused> = None;
        for (by, subject, limit) in self.subjects(email_key, address) {
            let until = self
                .book
                .throttled_until(by.as_str(), &subject, now_ms - window, window, limit)
                .await?;
            if let Some(until_ms) = until.filter(|until| *until > now_ms) {
                // The later of the two, so a retry at that time is not refused again.
                if refused.is_none_or(|r| r.until_ms < until_ms) {
                    refused = Some(Refused { by, until_ms });
                }
            }
        }
        Ok(refused)
    }

    /// Counts a failed check against the email and the address.
    pub(crate) async fn failed(
        &self,
        email_key: &str,
        address: Option<&str>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let subjects = self.subjects(email_key, address);
        let rows: Vec<(&str, &str)> = subjects
            .iter()
            .map(|(by, subject, _)| (by.as_str(), subject.as_str()))
            .collect();
        self.book.record_failures(&rows, now_ms).await
    }

    /// A right password starts the email's count again (not the address's:
    /// signing in to one's own account must not reset a guesser's count).
    pub(crate) async fn succeeded(&self, email_key: &str) -> Result<(), StoreError> {
        self.book
            .clear_failures(By::Email.as_str(), &digest(email_key))
            .await
    }
}
