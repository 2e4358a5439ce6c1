//! When and how soon an idempotent call is tried again; the loop itself is
//! [`crate::call::CallContext::call_idempotent`].

use std::time::Duration;

use tonic::{Code, Status};

use super::guard::rejected_locally;

/// Whether a failed attempt may be tried again: the dependency could not be
/// reached or was unavailable, or it gave up on its own deadline (our own
/// deadline leaves no time anyway). A call refused here (breaker open,
/// bulkhead full) is not retried: that would only add load.
pub fn is_retryable(status: &Status) -> bool {
    matches!(status.code(), Code::Unavailable | Code::DeadlineExceeded)
        && rejected_locally(status).is_none()
}

/// The pause before retry number `retry` (from 1): `base` doubled for each
/// earlier retry, then jittered to between half and all of it, so callers
/// that failed together do not retry together.
pub fn backoff(base: Duration, retry: u32) -> Duration {
    let full = base.saturating_mul(1 << retry.saturating_sub(1).min(16));
    full.mul_f64(0.5 + rand::random::<f64>() / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resilience::REJECTED_HEADER;

    #[test]
    fn backs_off_exponentially_with_jitter() {
        let base = Duration::from_millis(20);
        for retry in 1..=4 {
            let full = base * 2_u32.pow(retry - 1);
            for _ in 0..50 {
                let pause = backoff(base, retry);
                assert!(pause >= full / 2 && pause <= full, "{retry}: {pause:?}");
            }
        }
    }

    #[test]
    fn retries_only_what_may_succeed_elsewhere_in_time() {
        assert!(is_retryable(&Status::unavailable("down")));
        assert!(is_retryable(&Status::deadline_exceeded("slow")));
        for code in [
            Code::Internal,
            Code::Unknown,
            Code::InvalidArgument,
            Code::NotFound,
        ] {
            assert!(!is_retryable(&Status::new(code, "x")), "{code:?}");
        }
        let mut open = Status::unavailable("circuit open");
        open.metadata_mut()
            .insert(REJECTED_HEADER, "breaker_open".parse().unwrap());
        assert!(!is_retryable(&open));
    }
}
