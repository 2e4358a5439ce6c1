//! The one place where service errors become gRPC statuses.
//!
//! Services turn their domain errors into an [`RpcError`]; `From<RpcError> for
//! tonic::Status` is the only mapping. Client faults go back with their message;
//! internal faults are logged with their cause chain and answered with an opaque
//! message, so no internals leak to callers. An outcome the caller must
//! recognise (not only show) also carries a stable reason in the status
//! details (`google.rpc.ErrorInfo`), read back with [`error_reason`].

use std::{collections::HashMap, fmt};

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The `domain` of our `google.rpc.ErrorInfo` details.
pub const ERROR_DOMAIN: &str = "boutique.shop";

/// What went wrong while serving an RPC, by who must act on it.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// The request is malformed; the caller must fix it.
    #[error("{0}")]
    InvalidArgument(String),
    /// The named thing does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request is well formed but cannot be done in the current state
    /// (a declined card, an expired card).
    #[error("{0}")]
    FailedPrecondition(String),
    /// The thing to create exists already (an account for that email).
    #[error("{0}")]
    AlreadyExists(String),
    /// The caller's credentials (a password, a token) are missing or not valid.
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller must slow down (throttled sign-ins, a rate limit, a full
    /// queue); trying later may work.
    #[error("{0}")]
    ResourceExhausted(String),
    /// A dependency (a store, another service) cannot be reached; retrying later may work.
    #[error("{0}")]
    Unavailable(String),
    /// The caller's deadline ran out.
    #[error("{0}")]
    DeadlineExceeded(String),
    /// A bug or an unexpected failure; details are logged, not returned.
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
    /// `error`, marked with a stable `reason` (and its `metadata`) that the
    /// caller acts on: sent as a `google.rpc.ErrorInfo` beside the message.
    #[error("{error}")]
    Reasoned {
        /// The error itself, which decides the code and the message.
        error: Box<RpcError>,
        /// Upper snake case, stable across releases (`PAYMENT_UNCERTAIN`).
        reason: &'static str,
        /// Facts the caller needs (`order_id`).
        metadata: HashMap<String, String>,
    },
}

impl RpcError {
    /// `InvalidArgument` from anything displayable.
    pub fn invalid(message: impl fmt::Display) -> Self {
        Self::InvalidArgument(message.to_string())
    }

    /// This error marked with `reason` and `metadata` for the caller to act on.
    #[must_use]
    pub fn with_reason(
        self,
        reason: &'static str,
        metadata: impl IntoIterator<Item = (&'static str, String)>,
    ) -> Self {
        Self::Reasoned {
            error: Box::new(self),
            reason,
            metadata: metadata
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        }
    }

    /// `Internal` from any error, keeping its cause chain for the log.
    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        Self::Internal(error.into())
    }

    /// Classifies the failure of a call to another service, so a dependency
    /// outage reads as `UNAVAILABLE` to our caller rather than as our bug.
    pub fn from_downstream(service: &str, status: &Status) -> Self {
        let message = format!("{service}: {}", status.message());
        match status.code() {
            Code::Unavailable | Code::Unknown | Code::Cancelled | Code::ResourceExhausted => {
                Self::Unavailable(message)
            }
            Code::DeadlineExceeded => Self::DeadlineExceeded(message),
            Code::NotFound => Self::NotFound(message),
            Code::InvalidArgument | Code::OutOfRange => Self::InvalidArgument(message),
            Code::FailedPrecondition | Code::Aborted => Self::FailedPrecondition(message),
            _ => Self::Internal(anyhow::anyhow!("{service} failed: {status}")),
        }
    }
}

impl From<RpcError> for Status {
    fn from(error: RpcError) -> Self {
        match error {
            RpcError::InvalidArgument(m) => Status::invalid_argument(m),
            RpcError::NotFound(m) => Status::not_found(m),
            RpcError::FailedPrecondition(m) => Status::failed_precondition(m),
            RpcError::AlreadyExists(m) => Status::already_exists(m),
            RpcError::Unauthenticated(m) => Status::unauthenticated(m),
            RpcError::ResourceExhausted(m) => Status::resource_exhausted(m),
            RpcError::Unavailable(m) => {
                tracing::warn!(error = %m, "Dependency unavailable.");
                Status::unavailable(m)
            }
            RpcError::DeadlineExceeded(m) => Status::deadline_exceeded(m),
            RpcError::Internal(e) => {
                tracing::error!(
                    error = format!("{e:#}"),
                    "Internal error while serving a request."
                );
                Status::internal("internal error")
            }
            RpcError::Reasoned {
                error,
                reason,
                metadata,
            } => {
                let status = Status::from(*error);
                let details = ErrorDetails::with_error_info(reason, ERROR_DOMAIN, metadata);
                Status::with_error_details(status.code(), status.message(), details)
            }
        }
    }
}

/// The reason and metadata of a status marked with [`RpcError::with_reason`]
/// by one of our services; `None` for any other status.
pub fn error_reason(status: &Status) -> Option<(String, HashMap<String, String>)> {
    let info = status.get_details_error_info()?;
    (info.domain == ERROR_DOMAIN).then_some((info.reason, info.metadata))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_faults_keep_their_message() {
        let status = Status::from(RpcError::invalid("quantity must be positive"));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "quantity must be positive");
    }

    #[test]
    fn internal_faults_are_opaque() {
        let error = anyhow::anyhow!("secret detail").context("while doing a thing");
        let status = Status::from(RpcError::internal(error));
        assert_eq!(status.code(), Code::Internal);
        assert_eq!(status.message(), "internal error");
    }

    #[test]
    fn reasons_travel_in_the_status_details() {
        let error = RpcError::Unavailable("charged, not shipped".to_owned())
            .with_reason("CHARGED_NOT_SHIPPED", [("order_id", "o-1".to_owned())]);
        let status = Status::from(error);
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(status.message(), "charged, not shipped");
        let (reason, metadata) = error_reason(&status).unwrap();
        assert_eq!(reason, "CHARGED_NOT_SHIPPED");
        assert_eq!(metadata["order_id"], "o-1");
        assert!(error_reason(&Status::unavailable("plain")).is_none());
    }

    #[test]
    fn downstream_outages_read_as_unavailable() {
        let status = Status::from(RpcError::from_downstream(
            "catalog",
            &Status::unavailable("connection refused"),
        ));
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(status.message(), "catalog: connection refused");
        let status = Status::from(RpcError::from_downstream(
            "catalog",
            &Status::not_found("no product"),
        ));
        assert_eq!(status.code(), Code::NotFound);
    }
}
