//! Resilience policies for every outgoing gRPC call, in one place.
//!
//! Each dependency a service calls (each peer in the directory) gets one
//! [`Policy`], read from the environment at start-up ([`policy`]), and one set
//! of [`PeerGuards`] shared by every channel to it:
//!
//! - a **bulkhead**: at most `MAX_CONCURRENCY` calls in flight; one more is
//!   refused at once with `RESOURCE_EXHAUSTED` (tower's `LoadShed` over
//!   `ConcurrencyLimit`), never queued;
//! - a **circuit breaker** ([`breaker`]): after `BREAKER_FAILURES` failures in
//!   a row it answers `UNAVAILABLE` ("circuit open", naming the dependency) at
//!   once for `BREAKER_OPEN_FOR`, then lets one probe through and closes when
//!   it succeeds, so a dead dependency costs microseconds, not a timeout;
//! - a **retry budget** (tower's `TpsBudget`: retries at most 20 % of the
//!   calls of the last ten seconds, plus ten a second), spent by
//!   [`crate::call::CallContext::call_idempotent`], which retries only calls
//!   that are safe to repeat, only on `UNAVAILABLE` (and a dependency's own
//!   `DEADLINE_EXCEEDED`), with jittered exponential backoff
//!   ([`retry::backoff`]), never past the caller's deadline.
//!
//! [`guard`] builds the stack that [`crate::peers`] puts under every traced
//! channel, so every service and the frontend get the bulkhead and the
//! breaker without asking; retries are asked for per call, because only the
//! caller knows what is idempotent. The one exception is a call that never
//! reached the server (its connection closed under it, as when a server
//! drains): the channel sends it again by itself ([`resend`]), whatever the
//! call, since nothing can have happened twice.
//! [`metrics`] has the families and logs each breaker transition once.
//!
//! The breaker is written here rather than taken from a crate: the one
//! maintained tower breaker (`tower-resilience`) decides a call's outcome
//! when its response headers arrive, so it can neither read gRPC trailers
//! nor count a call its caller dropped at the deadline, and it takes an
//! async lock twice per call; ours is a small state machine with a lock-free
//! happy path.

pub mod breaker;
pub mod guard;
pub mod metrics;
pub mod policy;
mod resend;
pub mod retry;

pub use breaker::BreakerState;
pub use guard::{Guarded, PeerGuards, REJECTED_HEADER, rejected_locally};
pub use metrics::{Rejection, RetryOutcome};
pub use policy::Policy;
