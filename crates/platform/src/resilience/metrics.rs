//! The families the policies report into, made once per channel from the
//! calling service's [`Telemetry`], and the one log line per breaker transition.
//!
//! Label values are bounded: `peer` is a directory name, `reason` and
//! `outcome` come from the closed sets below.

use crate::telemetry::{Counter, Gauge, Telemetry};

use super::breaker::{BreakerState, Transition};

/// Why a call was refused without being sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// The dependency's breaker is open (or half-open with its probe out).
    BreakerOpen,
    /// The dependency's bulkhead is full.
    BulkheadFull,
}

impl Rejection {
    /// The `reason` label, and the value of the marker metadata.
    pub fn label(self) -> &'static str {
        match self {
            Self::BreakerOpen => "breaker_open",
            Self::BulkheadFull => "bulkhead_full",
        }
    }
}

/// What became of a retry an idempotent call wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryOutcome {
    /// It was sent.
    Retried,
    /// The dependency's retry budget was spent.
    BudgetExhausted,
    /// The caller's deadline left no time for it.
    NoTimeLeft,
    /// Any call (idempotent or not) its connection dropped before sending
    /// it, sent again ([`super::resend`]); spends no budget.
    ResentUnsent,
}

impl RetryOutcome {
    /// The `outcome` label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Retried => "retried",
            Self::BudgetExhausted => "budget_exhausted",
            Self::NoTimeLeft => "no_time_left",
            Self::ResentUnsent => "resent_unsent",
        }
    }
}

/// One service's view of the families, for calls to one peer.
#[derive(Debug, Clone)]
pub(crate) struct PolicyMetrics {
    peer: &'static str,
    service: &'static str,
    state: Gauge,
    rejected: Counter,
    retries: Counter,
}

impl PolicyMetrics {
    pub(crate) fn new(telemetry: &Telemetry, peer: &'static str) -> Self {
        let metrics = telemetry.metrics();
        let state = metrics.gauge(
            "boutique_client_breaker_state",
            "The circuit breaker of calls to a dependency: 0 closed, 1 half-open, 2 open.",
            &["peer"],
        );
        let rejected = metrics.counter(
            "boutique_client_rejected_total",
            "Calls to a dependency refused without being sent, by reason (breaker_open, bulkhead_full).",
            &["peer", "reason"],
        );
        let retries = metrics.counter(
            "boutique_client_retries_total",
            "Retries idempotent calls to a dependency wanted, by outcome (retried, budget_exhausted, no_time_left), and calls sent again because their connection dropped them unsent (resent_unsent).",
            &["peer", "outcome"],
        );
        state.set(&[peer], BreakerState::Closed as u8 as f64);
        for reason in [Rejection::BreakerOpen, Rejection::BulkheadFull] {
            rejected.start_at_zero(&[peer, reason.label()]);
        }
        for outcome in [
            RetryOutcome::Retried,
            RetryOutcome::BudgetExhausted,
            RetryOutcome::NoTimeLeft,
            RetryOutcome::ResentUnsent,
        ] {
            retries.start_at_zero(&[peer, outcome.label()]);
        }
        Self {
            peer,
            service: telemetry.service(),
            state,
            rejected,
            retries,
        }
    }

    pub(crate) fn rejected(&self, reason: Rejection) {
        self.rejected.inc(&[self.peer, reason.label()]);
    }

    pub(crate) fn retry(&self, outcome: RetryOutcome) {
        self.retries.inc(&[self.peer, outcome.label()]);
    }

    /// Puts a transition on the gauge and in the log, once.
    pub(crate) fn transition(&self, transition: Transition) {
        self.state.set(&[self.peer], transition.to as u8 as f64);
        let (service, peer) = (self.service, self.peer);
        let (from, to) = (transition.from.name(), transition.to.name());
        match transition.to {
            BreakerState::Open => tracing::warn!(
                service,
                peer,
                from,
                to,
                "Circuit breaker opened: calls to the dependency fail fast."
            ),
            BreakerState::HalfOpen => tracing::info!(
                service,
                peer,
                from,
                to,
                "Circuit breaker half-open: one probe call goes through."
            ),
            BreakerState::Closed => tracing::info!(
                service,
                peer,
                from,
                to,
                "Circuit breaker closed: the dependency answers again."
            ),
        }
    }
}
