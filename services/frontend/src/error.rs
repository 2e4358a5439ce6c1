//! The one mapping from what can go wrong to what the shopper sees.
//!
//! Handlers return [`AppError`]. Its `IntoResponse` only sets the status and
//! attaches an [`ErrorPage`] to the response; the request middleware, which
//! knows the request id, session and settings, renders the page and logs the
//! cause. Client faults (4xx) explain themselves; server faults (5xx) show a
//! friendly page with the request id and never any internals. Under `/api/`
//! the middleware renders the same [`ErrorPage`] as an RFC 9457 problem
//! document instead (see [`crate::api::problem`]), so the JSON routes fail with
//! the same statuses and the same care as the pages.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::{
    backends::{Backend, BackendError},
    validate::FieldError,
};

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AppError {
    /// No such page or product: 404.
    #[error("not found")]
    NotFound,
    /// A form failed validation: 422, one line per bad field.
    #[error("invalid form")]
    Invalid(Vec<FieldError>),
    /// The form body could not be read at all: 400.
    #[error("unreadable form: {0}")]
    BadForm(String),
    /// A query parameter of ours is malformed (a page size, a page token):
    /// 400, one line per bad parameter.
    #[error("invalid query")]
    BadQuery(Vec<FieldError>),
    /// A cross-site form post: 403.
    #[error("cross-site request refused")]
    CrossSite,
    /// A backend call failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// An order failed and the cart page could not be shown either: the
    /// error page carries what the cart page would have said.
    #[error("order failed: {message}")]
    OrderFailed {
        /// 422, 500 or 503, as for the cart page.
        status: StatusCode,
        /// The shopper-facing explanation.
        message: String,
    },
    /// The shopper did something too often (a ratings write limit): 429,
    /// with the explanation and `Retry-After`.
    #[error("too many requests")]
    TooMany {
        /// What to do about it.
        message: String,
        /// Seconds to wait.
        retry_after: u64,
    },
    /// A template failed to render: 500.
    #[error("cannot render the page: {0}")]
    Render(#[from] askama::Error),
    /// Anything else on our side: 500.
    #[error("{0}")]
    Internal(String),
}

/// What kind of error page to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PageKind {
    NotFound,
    Invalid,
    BadRequest,
    BadQuery,
    Forbidden,
    Unavailable,
    Internal,
    OrderFailed,
    TooMany,
}

/// Attached to an error response; rendered by the request middleware.
#[derive(Debug, Clone)]
pub(crate) struct ErrorPage {
    pub(crate) kind: PageKind,
    /// Lines shown to the shopper (validation messages only).
    pub(crate) lines: Vec<String>,
    /// The cause, for the log only; never shown.
    pub(crate) cause: Option<String>,
}

impl ErrorPage {
    /// The page for a bare error status that carries no page of its own
    /// (for instance a request that timed out).
    pub(crate) fn for_status(status: StatusCode) -> Option<Self> {
        let kind = match status {
            StatusCode::NOT_FOUND => PageKind::NotFound,
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT => PageKind::Unavailable,
            StatusCode::INTERNAL_SERVER_ERROR => PageKind::Internal,
            _ => return None,
        };
        Some(Self {
            kind,
            lines: Vec::new(),
            cause: None,
        })
    }
}

impl ErrorPage {
    /// The page for any other bare error status under the API (a 405, a 415
    /// from a layer), which pages leave bare.
    pub(crate) fn bare(status: StatusCode) -> Self {
        Self {
            kind: if status.is_server_error() {
                PageKind::Internal
            } else {
                PageKind::BadRequest
            },
            lines: Vec::new(),
            cause: None,
        }
    }
}

impl AppError {
    /// The status and page for this error.
    fn page(self) -> (StatusCode, ErrorPage) {
        let page = |kind, lines, cause| ErrorPage { kind, lines, cause };
        match self {
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                page(PageKind::NotFound, Vec::new(), None),
            ),
            Self::Invalid(errors) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                page(
                    PageKind::Invalid,
                    errors.iter().map(ToString::to_string).collect(),
                    None,
                ),
            ),
            Self::BadQuery(errors) => (
                StatusCode::BAD_REQUEST,
                page(
                    PageKind::BadQuery,
                    errors.iter().map(ToString::to_string).collect(),
                    None,
                ),
            ),
            Self::BadForm(reason) => (
                StatusCode::BAD_REQUEST,
                page(PageKind::BadRequest, Vec::new(), Some(reason)),
            ),
            Self::CrossSite => (
                StatusCode::FORBIDDEN,
                page(PageKind::Forbidden, Vec::new(), None),
            ),
            Self::Backend(error) => {
                let cause = Some(error.to_string());
                if is_not_found(&error) {
                    (
                        StatusCode::NOT_FOUND,
                        page(PageKind::NotFound, Vec::new(), cause),
                    )
                } else if error.is_unavailable() {
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        page(PageKind::Unavailable, Vec::new(), cause),
                    )
                } else {
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        page(PageKind::Internal, Vec::new(), cause),
                    )
                }
            }
            Self::OrderFailed { status, message } => {
                (status, page(PageKind::OrderFailed, vec![message], None))
            }
            Self::TooMany { message, .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                page(PageKind::TooMany, vec![message], None),
            ),
            Self::Render(error) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                page(PageKind::Internal, Vec::new(), Some(error.to_string())),
            ),
            Self::Internal(cause) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                page(PageKind::Internal, Vec::new(), Some(cause)),
            ),
        }
    }
}

/// Only the catalog's NOT_FOUND means "no such product"; the same code from
/// another backend is a fault of ours.
fn is_not_found(error: &BackendError) -> bool {
    matches!(
        error,
        BackendError::Status { backend: Backend::Catalog, status } if status.code() == tonic::Code::NotFound
    )
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let retry_after = match &self {
            Self::TooMany { retry_after, .. } => Some(*retry_after),
            _ => None,
        };
        let (status, page) = self.page();
        let mut response = status.into_response();
        response.extensions_mut().insert(page);
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use tonic::Status;

    use super::*;

    fn status_of(error: AppError) -> StatusCode {
        error.into_response().status()
    }

    #[test]
    fn maps_errors_to_statuses() {
        let backend = |backend, status| AppError::Backend(BackendError::Status { backend, status });
        assert_eq!(status_of(AppError::NotFound), StatusCode::NOT_FOUND);
        assert_eq!(
            status_of(backend(Backend::Catalog, Status::not_found("x"))),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            status_of(backend(Backend::Cart, Status::not_found("x"))),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            status_of(backend(Backend::Currency, Status::unavailable("down"))),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            status_of(backend(Backend::Cart, Status::internal("boom"))),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(status_of(AppError::CrossSite), StatusCode::FORBIDDEN);
        assert_eq!(
            status_of(AppError::Invalid(Vec::new())),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            status_of(AppError::BadQuery(Vec::new())),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status_of(backend(Backend::Orders, Status::unavailable("down"))),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }

    #[test]
    fn pages_keep_causes_out_of_the_shown_lines() {
        let response = AppError::Internal("secret detail".to_owned()).into_response();
        let page = response.extensions().get::<ErrorPage>().unwrap();
        assert!(page.lines.is_empty());
        assert_eq!(page.cause.as_deref(), Some("secret detail"));
    }
}
