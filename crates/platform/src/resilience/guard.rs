//! The channel stack of one dependency: a bulkhead (tower's `LoadShed` over
//! `ConcurrencyLimit`, so a full one refuses at once instead of queueing) in
//! front of the circuit breaker, in front of the tonic channel, whose calls
//! dropped unsent by a closing connection are sent again ([`super::resend`]).
//!
//! Both refusals are answered here as trailers-only gRPC responses, exactly
//! what a server would send, so every client sees an ordinary `Status`:
//! `RESOURCE_EXHAUSTED` when the bulkhead is full (a retry at once would only
//! add load; the frontend shows it as "try again"), `UNAVAILABLE` while the
//! breaker is open, each with a message naming the dependency and the
//! [`REJECTED_HEADER`] marker, so a caller knows the call never left.
//!
//! The breaker counts as failures transport errors, `UNAVAILABLE`,
//! `DEADLINE_EXCEEDED` and `RESOURCE_EXHAUSTED` answers (from the response
//! headers of a trailers-only answer, else from the trailers), HTTP errors of
//! a proxy in between, and calls dropped by their caller at their deadline.
//! A call dropped earlier (its caller went away) counts for nothing, but for
//! the half-open breaker's probe, which runs on to its end without its
//! caller (`run_to_the_end`).

use std::{
    fmt,
    pin::Pin,
    sync::{Arc, OnceLock},
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use futures::future::BoxFuture;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::{
    sync::{Semaphore, oneshot},
    time::Instant,
};
use tonic::{Code, Status, body::Body, transport::Channel};
use tower::{
    BoxError, Service,
    limit::ConcurrencyLimit,
    load_shed::{LoadShed, error::Overloaded},
    retry::budget::{Budget as _, TpsBudget},
};

use super::{
    Policy,
    breaker::{Admission, Breaker, BreakerState, Outcome},
    metrics::{PolicyMetrics, Rejection},
    resend::Resend,
};
use crate::telemetry::Telemetry;

/// The metadata key on a call refused without being sent; its value is the
/// `reason` label (`breaker_open`, `bulkhead_full`).
pub const REJECTED_HEADER: &str = "boutique-rejected";

/// Why `status` was refused by this process's own policies without being
/// sent, if it was.
pub fn rejected_locally(status: &Status) -> Option<Rejection> {
    match status.metadata().get(REJECTED_HEADER)?.to_str().ok()? {
        "breaker_open" => Some(Rejection::BreakerOpen),
        "bulkhead_full" => Some(Rejection::BulkheadFull),
        _ => None,
    }
}

/// A retry budget of 20 % of the calls of the last ten seconds, plus ten a
/// second so a quiet dependency can still be retried.
const BUDGET_TTL: Duration = Duration::from_secs(10);
const BUDGET_MIN_PER_SEC: u32 = 10;
const BUDGET_RATIO: f32 = 0.2;

/// A call abandoned this close to the deadline its `grpc-timeout` gave was
/// abandoned by that deadline (the caller's timer started a little before
/// the call reached this layer and fires on a millisecond tick).
const DEADLINE_SLACK: Duration = Duration::from_millis(2);

/// How long an abandoned probe without a deadline may take to finish (the
/// channel's own ceiling).
const PROBE_CEILING: Duration = Duration::from_secs(30);

/// What every channel to one dependency shares: its policy, breaker,
/// bulkhead and retry budget.
pub struct PeerGuards {
    pub(crate) peer: &'static str,
    pub(crate) policy: Policy,
    breaker: Breaker,
    bulkhead: Arc<Semaphore>,
    pub(crate) budget: TpsBudget,
}

impl fmt::Debug for PeerGuards {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerGuards")
            .field("peer", &self.peer)
            .field("policy", &self.policy)
            .field("breaker", &self.breaker.state())
            .finish_non_exhaustive()
    }
}

impl PeerGuards {
    /// Fresh guards for calls to `peer` under `policy`.
    pub fn new(peer: &'static str, policy: Policy) -> Arc<Self> {
        Arc::new(Self {
            peer,
            breaker: Breaker::new(policy.breaker_failures, policy.breaker_open_for),
            bulkhead: Arc::new(Semaphore::new(policy.max_concurrency)),
            budget: TpsBudget::new(BUDGET_TTL, BUDGET_MIN_PER_SEC, BUDGET_RATIO),
            policy,
        })
    }

    /// The breaker's state now.
    pub fn breaker_state(&self) -> BreakerState {
        self.breaker.state()
    }
}

/// What an idempotent call learns from the channel it went through: the
/// guards and metrics of that dependency (set by the channel, read by
/// [`crate::call::CallContext`] to decide on a retry).
pub(crate) type PolicySlot = Arc<OnceLock<Arc<Shared>>>;

/// The request extension [`crate::call::CallContext`] puts on each attempt
/// of an idempotent call.
#[derive(Debug, Clone)]
pub(crate) struct Attempt {
    /// A retry (spends budget) rather than a first attempt (earns it).
    pub(crate) retry: bool,
    pub(crate) slot: PolicySlot,
}

/// The request extension carrying the instant the caller gives up, so a call
/// dropped then is told from one dropped earlier.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallDeadline(pub(crate) Instant);

/// A dependency's guards with one calling service's metrics.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) guards: Arc<PeerGuards>,
    pub(crate) metrics: PolicyMetrics,
}

/// The guarded stack (see the [module](self)); cheap to clone.
#[derive(Clone)]
pub struct Guarded {
    inner: Stack,
    shared: Arc<Shared>,
}

/// The layers a call goes through.
#[derive(Clone)]
enum Stack {
    /// Bulkhead, breaker and resending, as the policy says.
    Guarded(LoadShed<ConcurrencyLimit<BreakerService>>),
    /// The bare channel (`RESILIENCE=off`): what the policies cost is
    /// measured against this.
    Bare(Channel),
}

impl fmt::Debug for Guarded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guarded")
            .field("guards", &self.shared.guards)
            .finish_non_exhaustive()
    }
}

impl Guarded {
    /// `channel` behind `guards`, counted in `telemetry`'s metrics.
    pub fn new(channel: Channel, guards: Arc<PeerGuards>, telemetry: &Telemetry) -> Self {
        let shared = Arc::new(Shared {
            metrics: PolicyMetrics::new(telemetry, guards.peer),
            guards,
        });
        if !shared.guards.policy.enabled {
            return Self {
                inner: Stack::Bare(channel),
                shared,
            };
        }
        let breaker = BreakerService {
            channel: Resend::new(channel, Arc::clone(&shared)),
            shared: Arc::clone(&shared),
        };
        let limited =
            ConcurrencyLimit::with_semaphore(breaker, Arc::clone(&shared.guards.bulkhead));
        Self {
            inner: Stack::Guarded(LoadShed::new(limited)),
            shared,
        }
    }
}

impl Service<http::Request<Body>> for Guarded {
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        match &mut self.inner {
            // LoadShed is always ready: a full bulkhead shows in `call`.
            Stack::Guarded(stack) => stack.poll_ready(cx),
            Stack::Bare(channel) => channel.poll_ready(cx).map_err(Into::into),
        }
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let stack = match &mut self.inner {
            Stack::Guarded(stack) => stack,
            Stack::Bare(channel) => {
                // No slot is filled, so the caller does not retry either.
                let response = channel.call(request);
                let peer = self.shared.guards.peer;
                return Box::pin(async move {
                    match response.await {
                        Err(error) if is_timeout(&error) => Ok(deadline_passed(peer)),
                        other => other.map_err(Into::into),
                    }
                });
            }
        };
        match request.extensions().get::<Attempt>() {
            Some(attempt) => {
                let _ = attempt.slot.set(Arc::clone(&self.shared));
                if !attempt.retry {
                    self.shared.guards.budget.deposit();
                }
            }
            None => self.shared.guards.budget.deposit(),
        }
        let response = stack.call(request);
        let shared = Arc::clone(&self.shared);
        Box::pin(async move {
            match response.await {
                Err(error) if error.is::<Overloaded>() => {
                    shared.metrics.rejected(Rejection::BulkheadFull);
                    let guards = &shared.guards;
                    Ok(rejection(
                        Status::resource_exhausted(format!(
                            "bulkhead full: {} calls to {} already in flight",
                            guards.policy.max_concurrency, guards.peer
                        )),
                        Rejection::BulkheadFull,
                    ))
                }
                // tonic's channel enforces `grpc-timeout` too, and reports
                // its expiry as a transport error (CANCELLED to the client):
                // it is the deadline, and says so.
                Err(error) if is_timeout(&*error) => Ok(deadline_passed(shared.guards.peer)),
                other => other,
            }
        })
    }
}

/// The answer for a call whose deadline passed in the channel.
fn deadline_passed(peer: &str) -> http::Response<Body> {
    Status::deadline_exceeded(format!("no answer from {peer} before the deadline")).into_http()
}

/// Whether `error` is the channel's deadline expiring.
fn is_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(error) = source {
        if error.is::<tonic::TimeoutExpired>() {
            return true;
        }
        source = error.source();
    }
    false
}

/// A trailers-only answer for a call refused here.
fn rejection(mut status: Status, reason: Rejection) -> http::Response<Body> {
    status.metadata_mut().insert(
        REJECTED_HEADER,
        tonic::metadata::MetadataValue::from_static(reason.label()),
    );
    status.into_http()
}

/// The breaker around the tonic channel (which sends again what its
/// connection dropped unsent, [`Resend`]).
#[derive(Clone)]
struct BreakerService {
    channel: Resend,
    shared: Arc<Shared>,
}

impl Service<http::Request<Body>> for BreakerService {
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.channel.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let shared = Arc::clone(&self.shared);
        let (admission, transition) = shared.guards.breaker.admit();
        if let Some(transition) = transition {
            shared.metrics.transition(transition);
        }
        let Admission::Admitted { probe } = admission else {
            shared.metrics.rejected(Rejection::BreakerOpen);
            let guards = &shared.guards;
            let status = Status::unavailable(format!(
                "circuit open: {} failed {} times in a row; calls to it fail fast for {}ms",
                guards.peer,
                guards.policy.breaker_failures,
                guards.policy.breaker_open_for.as_millis()
            ));
            return Box::pin(async move { Ok(rejection(status, Rejection::BreakerOpen)) });
        };
        let deadline = call_deadline(&request);
        let mut watch = Watch {
            shared,
            probe,
            deadline,
            done: false,
        };
        let response = self.channel.call(request);
        let call = async move {
            match response.await {
                Err(error) => {
                    watch.finish(Outcome::Failure);
                    Err(BoxError::from(error))
                }
                Ok(response) => {
                    let headers_say = if response.status() != http::StatusCode::OK {
                        Some(Outcome::Failure)
                    } else {
                        response
                            .headers()
                            .get("grpc-status")
                            .map(|value| classify(Code::from_bytes(value.as_bytes())))
                    };
                    match headers_say {
                        Some(outcome) => {
                            watch.finish(outcome);
                            Ok(response)
                        }
                        // The status comes in the trailers.
                        None => Ok(response.map(|body| {
                            Body::new(TrailerWatch {
                                body,
                                watch: Some(watch),
                            })
                        })),
                    }
                }
            }
        };
        if probe {
            Box::pin(run_to_the_end(call, deadline))
        } else {
            Box::pin(call)
        }
    }
}

/// A probe runs to its end even when its caller goes away, so that the
/// breaker learns how the dependency is. A caller that sends several calls
/// to one peer at once would otherwise abandon every probe: the calls beside
/// the probe are refused (one probe at a time), the caller fails at the
/// first refusal and drops the probe with it, and the breaker stays
/// half-open as long as such callers come. (Checkout pricing a cart's lines
/// kept refusing orders that way long after the currency service was back.)
/// Bounded by the call's deadline, as the call itself is.
async fn run_to_the_end(
    call: impl Future<Output = Result<http::Response<Body>, BoxError>> + Send + 'static,
    deadline: Option<Instant>,
) -> Result<http::Response<Body>, BoxError> {
    let (answer, answered) = oneshot::channel();
    tokio::spawn(async move {
        if let Err(Ok(response)) = answer.send(call.await) {
            // Nobody reads the answer: read it to its trailers here, where
            // the breaker hears its status.
            let mut body = response.into_body();
            let until = deadline.unwrap_or_else(|| Instant::now() + PROBE_CEILING);
            let _ = tokio::time::timeout_at(until, async {
                while let Some(Ok(_)) =
                    std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
                {
                }
            })
            .await;
        }
    });
    answered
        .await
        .unwrap_or_else(|_| Err("the probe ended without an answer (shutting down)".into()))
}

/// The outcome a status code means for the breaker: only a dependency that
/// cannot be reached or does not answer in time fails. `RESOURCE_EXHAUSTED`
/// is a quick, deliberate refusal (a per-account rate limit, a sign-in
/// throttle) from a dependency that is up: counting it would let one
/// client's throttled requests open the breaker for every other client.
fn classify(code: Code) -> Outcome {
    match code {
        Code::Unavailable | Code::DeadlineExceeded => Outcome::Failure,
        _ => Outcome::Success,
    }
}

/// When the caller gives up: the deadline [`crate::call::CallContext`] put on
/// the request, else what its `grpc-timeout` says, less a little slack.
fn call_deadline(request: &http::Request<Body>) -> Option<Instant> {
    if let Some(CallDeadline(deadline)) = request.extensions().get::<CallDeadline>() {
        return Some(*deadline);
    }
    let timeout = request
        .headers()
        .get("grpc-timeout")?
        .to_str()
        .ok()
        .and_then(crate::call::parse_grpc_timeout)?;
    Some(Instant::now() + timeout.saturating_sub(DEADLINE_SLACK.min(timeout / 2)))
}

/// Records one call's outcome exactly once: when it is known, or when the
/// call is dropped (at its deadline a failure, before it nothing).
struct Watch {
    shared: Arc<Shared>,
    probe: bool,
    deadline: Option<Instant>,
    done: bool,
}

impl Watch {
    fn finish(&mut self, outcome: Outcome) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        if let Some(transition) = self.shared.guards.breaker.record(self.probe, outcome) {
            self.shared.metrics.transition(transition);
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let at_deadline = self
            .deadline
            .is_some_and(|deadline| Instant::now() >= deadline);
        self.finish(if at_deadline {
            Outcome::Failure
        } else {
            Outcome::Abandoned
        });
    }
}

/// A response body that reports the status in its trailers to the breaker.
struct TrailerWatch {
    body: Body,
    watch: Option<Watch>,
}

impl HttpBody for TrailerWatch {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        let outcome = match &polled {
            Poll::Ready(Some(Ok(frame))) => frame.trailers_ref().map(|trailers| {
                trailers
                    .get("grpc-status")
                    .map_or(Outcome::Success, |value| {
                        classify(Code::from_bytes(value.as_bytes()))
                    })
            }),
            Poll::Ready(Some(Err(_))) => Some(Outcome::Failure),
            // It answered, if without trailers (tonic reports that itself).
            Poll::Ready(None) => Some(Outcome::Success),
            Poll::Pending => None,
        };
        if let Some(outcome) = outcome
            && let Some(mut watch) = self.watch.take()
        {
            watch.finish(outcome);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::{Code, Outcome, classify};

    #[test]
    fn only_an_unreachable_or_silent_dependency_is_a_failure() {
        assert!(matches!(classify(Code::Unavailable), Outcome::Failure));
        assert!(matches!(classify(Code::DeadlineExceeded), Outcome::Failure));
        // A throttled client is refused by a dependency that is up.
        assert!(matches!(
            classify(Code::ResourceExhausted),
            Outcome::Success
        ));
        assert!(matches!(classify(Code::InvalidArgument), Outcome::Success));
    }
}
