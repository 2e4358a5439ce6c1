//! `EventsError`, the one error of the bus, and `Handling`, a handler's verdict.
//!
//! Messages say what the bus was doing; the client's error is the `source`.
//! Nothing here holds a broker password: URLs are shown redacted and the
//! client's connection errors are scrubbed before they are kept.

use std::{fmt, time::Duration};

/// Why a bus operation failed. Every variant is worth a retry later (the
/// outbox keeps unpublished events) except [`EventsError::Invalid`] and
/// [`EventsError::Topology`], which need a fix.
#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    /// The broker could not be reached, or refused the connection.
    #[error("cannot connect to the broker at {url}")]
    Connect {
        /// The broker, password redacted.
        url: String,
        /// The client's error, password scrubbed.
        #[source]
        source: Scrubbed,
    },
    /// An operation on a connected broker failed (the connection dropped, a
    /// declaration or a publish was refused).
    #[error("broker error while {action}")]
    Broker {
        /// What the bus was doing, e.g. "publishing".
        action: &'static str,
        /// The client's error.
        #[source]
        source: lapin::Error,
    },
    /// The broker did not answer in time.
    #[error("the broker did not answer within {after:?} while {action}")]
    Timeout {
        /// What the bus was doing.
        action: &'static str,
        /// How long it waited.
        after: Duration,
    },
    /// The broker refused to take some of a batch (it nacked them: a queue
    /// was full, or the broker failed to store them).
    #[error("the broker refused {refused} of {total} events")]
    Refused {
        /// How many it refused.
        refused: usize,
        /// How many were published.
        total: usize,
    },
    /// An event was routed to no queue, so nobody would ever see it (the
    /// topology is missing or was changed by hand).
    #[error("event {event_id} ({routing_key}) was routed to no queue")]
    Unroutable {
        /// The event's id.
        event_id: String,
        /// Its routing key.
        routing_key: String,
    },
    /// The memory hub is full: nobody consumes, or not fast enough.
    #[error("the in-memory event hub is full ({capacity} messages); nothing consumes them?")]
    Full {
        /// How many messages it holds.
        capacity: usize,
    },
    /// The existing topology does not match ours (a queue declared with other
    /// arguments, such as another delivery limit): an operator must fix it.
    #[error("the broker's topology does not match ours")]
    Topology(#[source] lapin::Error),
    /// The caller passed something the bus will not send.
    #[error("invalid event {event_id}: {reason}")]
    Invalid {
        /// The event's id.
        event_id: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// A handler's verdict on an event it could not handle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Handling {
    /// Try again later: the failure is transient (a dependency is down). The
    /// message is handed back after a backoff and redelivered, up to the
    /// delivery limit; past it, it is dead-lettered.
    #[error("retry: {0}")]
    Retry(String),
    /// Never try again: the event cannot be handled (it refers to something
    /// that does not exist, say). The message is dead-lettered at once.
    #[error("poison: {0}")]
    Poison(String),
}

/// An error's text with a password removed (the password itself never
/// reaches this type); the client's error is not ours to promise clean.
#[derive(Debug)]
pub struct Scrubbed(pub(crate) String);

impl fmt::Display for Scrubbed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Scrubbed {}

/// An error and its causes (`outer: inner: …`), for a log line's `error` field.
pub(crate) struct Chain<'a>(pub(crate) &'a (dyn std::error::Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

impl EventsError {
    /// Whether a consumer should give up rather than reconnect: the error
    /// needs an operator, and retrying would only hide it.
    pub(crate) fn is_fatal(&self) -> bool {
        matches!(self, Self::Topology(_) | Self::Invalid { .. })
    }
}
