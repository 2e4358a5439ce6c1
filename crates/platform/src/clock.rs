//! Wall-clock time as the shop stores and sends it: milliseconds since the
//! Unix epoch in an `i64` (what the tables, the order events and the gRPC
//! messages carry), and durations in the same unit.

use std::time::{Duration, SystemTime};

/// Now, in milliseconds since the Unix epoch (0 for a clock set before it).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, millis)
}

/// `duration` in whole milliseconds (saturating at `i64::MAX`).
pub fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_is_after_this_code_was_written_and_durations_saturate() {
        // 2026-01-01T00:00:00Z.
        assert!(now_ms() > 1_767_225_600_000);
        assert_eq!(millis(Duration::from_millis(1500)), 1500);
        assert_eq!(millis(Duration::MAX), i64::MAX);
    }
}
