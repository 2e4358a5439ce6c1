//! The per-account write limit of the ratings service, kept in the database
//! so that every replica counts the same writes.
//!
//! The rule is a generic cell rate algorithm (the one the `governor` crate
//! implements in memory): `writes` per `period`, spaced out, with bursts of up
//! to `writes`. Its whole state is one time per account, `next_at_ms` (when
//! the account's next write would be due if writes came at the steady rate).
//! A write at `now` is allowed when `next_at_ms - now` is at most
//! `period - interval`, where `interval = period / writes`; it then moves
//! `next_at_ms` to `max(next_at_ms, now) + interval`. The check and the move
//! are one `INSERT … ON CONFLICT DO UPDATE … WHERE`, atomic on both engines,
//! so concurrent writes of one account cannot both take the last slot.
//!
//! A refused write does not move the state (only allowed writes count), and
//! one row per account that ever wrote is kept: small, and its value is stale
//! (so harmless) once in the past.

use std::time::Duration;

use super::RatingBook;
use crate::StoreError;

/// A limit of `writes` per `period` for each account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteLimit {
    /// Writes allowed per period (and in one burst). At least 1.
    pub writes: u32,
    /// The period.
    pub period: Duration,
}

impl WriteLimit {
    /// `writes` per minute.
    pub fn per_minute(writes: u32) -> Self {
        Self {
            writes,
            period: Duration::from_secs(60),
        }
    }

    /// The steady spacing of writes, in milliseconds (at least 1).
    fn interval_ms(self) -> i64 {
        let period = i64::try_from(self.period.as_millis()).unwrap_or(i64::MAX);
        (period / i64::from(self.writes.max(1))).max(1)
    }

    /// How far ahead of now `next_at_ms` may be for a write to be allowed.
    fn tolerance_ms(self) -> i64 {
        self.interval_ms() * (i64::from(self.writes.max(1)) - 1)
    }
}

/// What [`RatingBook::admit_write`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The write may go ahead; it is counted.
    Allowed,
    /// Too many writes: the next one is allowed in this many milliseconds.
    Limited {
        /// At least 1.
        retry_after_ms: i64,
    },
}

impl RatingBook {
    /// Counts a write by `account_id` at `now_ms` against `limit`, or refuses
    /// it. `now_ms` is passed in (the service passes the clock) so that tests
    /// decide time.
    pub async fn admit_write(
        &self,
        account_id: &str,
        now_ms: i64,
        limit: WriteLimit,
    ) -> Result<Admission, StoreError> {
        let action = "counting a rating write";
        let interval = limit.interval_ms();
        let tolerance = limit.tolerance_ms();
        let admitted = {
            let _turn = self.db.write_lock().await;
            sqlx::query(
                "INSERT INTO rating_write_limits (account_id, next_at_ms) VALUES ($1, $2 + $3) \
                 ON CONFLICT (account_id) DO UPDATE SET next_at_ms = \
                 (CASE WHEN rating_write_limits.next_at_ms > $2 \
                 THEN rating_write_limits.next_at_ms ELSE $2 END) + $3 \
                 WHERE rating_write_limits.next_at_ms <= $4",
            )
            .bind(account_id)
            .bind(now_ms)
            .bind(interval)
            .bind(now_ms.saturating_add(tolerance))
            .execute(&self.pool)
            .await
            .map_err(StoreError::query(action))?
            .rows_affected()
        };
        if admitted == 1 {
            return Ok(Admission::Allowed);
        }
        let (next_at_ms,): (i64,) =
            sqlx::query_as("SELECT next_at_ms FROM rating_write_limits WHERE account_id = $1")
                .bind(account_id)
                .fetch_one(&self.pool)
                .await
                .map_err(StoreError::query(action))?;
        Ok(Admission::Limited {
            retry_after_ms: (next_at_ms - tolerance - now_ms).max(1),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_a_minute_is_one_every_six_seconds_with_bursts_of_ten() {
        let limit = WriteLimit::per_minute(10);
        assert_eq!(limit.interval_ms(), 6_000);
        assert_eq!(limit.tolerance_ms(), 54_000);
        let one = WriteLimit::per_minute(1);
        assert_eq!(one.tolerance_ms(), 0);
    }
}
