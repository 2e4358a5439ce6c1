//! What every downstream call inherits from the incoming call: the caller's
//! deadline; and the retries of calls that are safe to repeat.
//!
//! Upstream's checkout lost it on its currency calls (`context.TODO()`), so a
//! shopper who gave up still had work done on their behalf. Here the deadline
//! is read once from `grpc-timeout` and every downstream call gets what is
//! left of it. (The W3C trace context and baggage travel by themselves: the
//! server layer makes them the handler's current context and
//! [`crate::telemetry::grpc::TracedChannel`] puts them on every call.)
//!
//! [`CallContext::call`] sends once. [`CallContext::call_idempotent`] is for
//! reads and for writes made safe to repeat (a charge under its idempotency
//! key): a failed attempt is tried again under the dependency's policy (see
//! [`crate::resilience`]), within its retry budget and never past the
//! deadline. The policy and budget are the channel's: the channel the first
//! attempt goes through hands them back in a request extension, so a caller
//! needs nothing but its client.

use std::{future::Future, sync::Arc, time::Duration};

use tokio::time::Instant;
use tonic::{Request, Response, Status, metadata::MetadataMap};

use crate::resilience::{
    RetryOutcome,
    guard::{Attempt, CallDeadline, PolicySlot},
    retry::{backoff, is_retryable},
};

/// The deadline of one incoming call.
#[derive(Debug, Clone)]
pub struct CallContext {
    /// When the caller stops waiting; `None` if it set no deadline.
    deadline: Option<Instant>,
    /// How long one call may take when the caller set no deadline.
    default_timeout: Duration,
}

impl CallContext {
    /// Reads the deadline of an incoming call.
    pub fn from_metadata(metadata: &MetadataMap, default_timeout: Duration) -> Self {
        let deadline = caller_timeout(metadata).map(|timeout| Instant::now() + timeout);
        Self {
            deadline,
            default_timeout,
        }
    }

    /// A context of its own, not tied to any caller: every call shares
    /// `budget`, counted from now. For work that must finish whether or not
    /// the caller still waits (an order after its charge).
    pub fn with_budget(budget: Duration) -> Self {
        Self {
            deadline: Some(Instant::now() + budget),
            default_timeout: budget,
        }
    }

    /// The time the next call may take: what is left of the caller's
    /// deadline, or the per-call default.
    fn next_timeout(&self, service: &str) -> Result<Duration, Status> {
        match self.deadline {
            None => Ok(self.default_timeout),
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    Err(Status::deadline_exceeded(format!(
                        "the caller's deadline passed before calling {service}"
                    )))
                } else {
                    Ok(left)
                }
            }
        }
    }

    /// Calls `service` with `message`, carrying the deadline, and gives up
    /// when the time runs out even if the other side never answers. Sent
    /// once: for calls that are not safe to repeat.
    pub async fn call<M, R, F>(
        &self,
        service: &str,
        message: M,
        send: impl FnOnce(Request<M>) -> F,
    ) -> Result<R, Status>
    where
        F: Future<Output = Result<Response<R>, Status>>,
    {
        self.attempt(service, message, None, send).await
    }

    /// Calls `service` like [`CallContext::call`], through a clone of
    /// `client`, and tries again while the dependency's policy allows: only on
    /// `UNAVAILABLE` (or the dependency's own `DEADLINE_EXCEEDED`), at most
    /// its `RETRIES` times, each after a jittered, doubling backoff, each
    /// spending its retry budget, and never when the deadline would pass
    /// first. Only for calls that are safe to repeat: reads, and writes that
    /// carry an idempotency key.
    pub async fn call_idempotent<C, M, R, F>(
        &self,
        service: &str,
        client: &C,
        message: M,
        send: impl Fn(C, Request<M>) -> F,
    ) -> Result<R, Status>
    where
        C: Clone,
        M: Clone,
        F: Future<Output = Result<Response<R>, Status>>,
    {
        let slot = PolicySlot::default();
        let mut retries = 0;
        loop {
            let attempt = Attempt {
                retry: retries > 0,
                slot: Arc::clone(&slot),
            };
            let status = match self
                .attempt(service, message.clone(), Some(attempt), |request| {
                    send(client.clone(), request)
                })
                .await
            {
                Ok(reply) => return Ok(reply),
                Err(status) => status,
            };
            // A channel without policies (made outside the directory) never retries.
            let Some(shared) = slot.get() else {
                return Err(status);
            };
            let policy = &shared.guards.policy;
            if !is_retryable(&status) || retries >= policy.retries {
                return Err(status);
            }
            let pause = backoff(policy.retry_backoff, retries + 1);
            if !self.leaves_time_after(pause) {
                shared.metrics.retry(RetryOutcome::NoTimeLeft);
                return Err(status);
            }
            if !tower::retry::budget::Budget::withdraw(&shared.guards.budget) {
                shared.metrics.retry(RetryOutcome::BudgetExhausted);
                return Err(status);
            }
            shared.metrics.retry(RetryOutcome::Retried);
            tracing::debug!(
                peer = shared.guards.peer,
                retry = retries + 1,
                code = ?status.code(),
                "Retrying an idempotent call."
            );
            tokio::time::sleep(pause).await;
            retries += 1;
        }
    }

    /// Whether an attempt could still be made after waiting `pause`.
    fn leaves_time_after(&self, pause: Duration) -> bool {
        self.deadline
            .is_none_or(|deadline| Instant::now() + pause < deadline)
    }

    /// One attempt: the request carries the deadline (as `grpc-timeout` for
    /// the callee, as an extension for the breaker) and `attempt`.
    async fn attempt<M, R, F>(
        &self,
        service: &str,
        message: M,
        attempt: Option<Attempt>,
        send: impl FnOnce(Request<M>) -> F,
    ) -> Result<R, Status>
    where
        F: Future<Output = Result<Response<R>, Status>>,
    {
        let timeout = self.next_timeout(service)?;
        let mut request = Request::new(message);
        // Tells the callee our deadline, so it can give up too.
        request.set_timeout(timeout);
        request
            .extensions_mut()
            .insert(CallDeadline(Instant::now() + timeout));
        if let Some(attempt) = attempt {
            request.extensions_mut().insert(attempt);
        }
        match tokio::time::timeout(timeout, send(request)).await {
            Ok(reply) => reply.map(Response::into_inner),
            Err(_) => Err(Status::deadline_exceeded(format!(
                "no answer within {}ms",
                timeout.as_millis()
            ))),
        }
    }
}

/// The time the caller allows, from its `grpc-timeout` header.
pub fn caller_timeout(metadata: &MetadataMap) -> Option<Duration> {
    parse_grpc_timeout(metadata.get("grpc-timeout")?.to_str().ok()?)
}

/// Parses `grpc-timeout`: at most eight digits, then one of `H M S m u n`.
pub(crate) fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at_checked(value.len().checked_sub(1)?)?;
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    match unit {
        "H" => Some(Duration::from_secs(amount * 3600)),
        "M" => Some(Duration::from_secs(amount * 60)),
        "S" => Some(Duration::from_secs(amount)),
        "m" => Some(Duration::from_millis(amount)),
        "u" => Some(Duration::from_micros(amount)),
        "n" => Some(Duration::from_nanos(amount)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_grpc_timeouts() {
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("2M"), Some(Duration::from_secs(120)));
        assert_eq!(parse_grpc_timeout("3S"), Some(Duration::from_secs(3)));
        assert_eq!(parse_grpc_timeout("150m"), Some(Duration::from_millis(150)));
        assert_eq!(parse_grpc_timeout("7u"), Some(Duration::from_micros(7)));
        assert_eq!(
            parse_grpc_timeout("99999999n"),
            Some(Duration::from_nanos(99_999_999))
        );
        for bad in ["", "S", "10", "1x", "123456789S", "-1S", "1.5S", "5é", "é"] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad}");
        }
    }

    #[test]
    fn reads_the_deadline() {
        let mut metadata = MetadataMap::new();
        metadata.insert("grpc-timeout", "2S".parse().unwrap());
        let context = CallContext::from_metadata(&metadata, Duration::from_secs(9));
        let timeout = context.next_timeout("x").unwrap();
        assert!(timeout <= Duration::from_secs(2) && timeout > Duration::from_secs(1));

        let context = CallContext::from_metadata(&MetadataMap::new(), Duration::from_secs(9));
        assert_eq!(context.next_timeout("x").unwrap(), Duration::from_secs(9));
    }

    #[tokio::test(start_paused = true)]
    async fn a_passed_deadline_stops_further_calls() {
        let mut metadata = MetadataMap::new();
        metadata.insert("grpc-timeout", "10m".parse().unwrap());
        let context = CallContext::from_metadata(&metadata, Duration::from_secs(9));
        tokio::time::advance(Duration::from_millis(20)).await;
        let status = context
            .call("cart", (), |_| async { Ok(Response::new(())) })
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::DeadlineExceeded);
    }
}
