//! `StoreError`: the one error of the storage layer, with its cause chain.
//!
//! Messages say what the store was doing; the driver's error is the `source`.
//! Nothing here ever holds a database password: locations are shown redacted,
//! and connection errors (the only ones a driver could build from the URL) are
//! scrubbed of the password before they are kept.

use std::{error::Error as StdError, fmt, io, path::PathBuf};

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The directory of the SQLite file could not be created.
    #[error("cannot create the data directory {}", path.display())]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: io::Error,
    },
    /// The database could not be opened or reached.
    #[error("cannot open the database ({location})")]
    Connect {
        /// Where, password redacted.
        location: String,
        /// The driver's error, password scrubbed.
        #[source]
        source: Scrubbed,
    },
    /// A migration could not be applied (or the database has migrations this
    /// build does not know: it was migrated by a newer version).
    #[error("cannot apply the database migrations")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("database error while {action}")]
    Query {
        /// What the store was doing, e.g. "recording a charge".
        action: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The caller passed a value the store will not keep.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// Which value.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// A stored row does not hold a valid value (changed outside the store?).
    #[error("stored {what} is unreadable: {reason}")]
    Corrupt {
        /// Which value.
        what: &'static str,
        /// Why.
        reason: String,
    },
}

impl StoreError {
    pub(crate) fn query(action: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Query { action, source }
    }

    pub(crate) fn invalid(what: &'static str, reason: impl fmt::Display) -> Self {
        Self::Invalid {
            what,
            reason: reason.to_string(),
        }
    }

    pub(crate) fn corrupt(what: &'static str, reason: impl fmt::Display) -> Self {
        Self::Corrupt {
            what,
            reason: reason.to_string(),
        }
    }
}

/// A driver error as text, its whole chain flattened and the password removed.
#[derive(Debug)]
pub struct Scrubbed(String);

impl Scrubbed {
    /// Flattens `error`'s chain into one message and removes `url`'s password.
    pub(crate) fn new(error: &(dyn StdError + 'static), url: &str) -> Self {
        let mut text = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        Self(crate::redact::scrub(&text, url))
    }
}

impl fmt::Display for Scrubbed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for Scrubbed {}
