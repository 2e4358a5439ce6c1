//! How the JSON API says what went wrong: RFC 9457 problem documents
//! (`application/problem+json`).
//!
//! The API's handlers fail with the crate's one [`AppError`](crate::error),
//! like the pages; the request middleware renders the resulting
//! [`ErrorPage`] as a problem document instead of HTML for requests under
//! `{BASE_URL}/api/`, including the 404 of an unknown API path and the 503
//! of a timeout. The rules of the pages hold: a client mistake explains
//! itself in `detail`; a fault of ours says only that it happened, and the
//! request id (`instance`, a `urn:uuid:`) is what support needs to find
//! the logged cause.
//!
//! `type` is `about:blank`, so `title` is the status's own phrase: the
//! status says what kind of problem it is, `detail` what to do about it.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use crate::{
    ctx::Ctx,
    error::{ErrorPage, PageKind},
};

/// The media type of a problem document.
pub(crate) const CONTENT_TYPE: &str = "application/problem+json";

/// A problem document (RFC 9457, section 3).
#[derive(Debug, Serialize)]
pub(crate) struct Problem {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'static str,
    status: u16,
    detail: String,
    /// This occurrence: the request id, as logged and shown on error pages.
    instance: String,
}

impl Problem {
    /// The document for an error response.
    pub(crate) fn new(ctx: &Ctx, status: StatusCode, page: &ErrorPage) -> Self {
        Self {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: detail(page),
            instance: format!("urn:uuid:{}", ctx.request_id),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(self)).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        response
    }
}

/// What the client should know: the bad parameters when it sent some, else a
/// sentence per kind. Causes (the `ErrorPage`'s `cause`) stay in the log.
fn detail(page: &ErrorPage) -> String {
    if !page.lines.is_empty() {
        return page.lines.join("; ");
    }
    let sentence = match page.kind {
        PageKind::NotFound => "There is nothing at this address.",
        PageKind::Invalid | PageKind::BadQuery | PageKind::BadRequest => {
            "The request could not be understood."
        }
        PageKind::Forbidden => "Requests made for another site are refused.",
        // Also a request that timed out (the middleware's bare 503).
        PageKind::Unavailable => {
            "A service this request needs is not answering; try again in a moment."
        }
        PageKind::OrderFailed | PageKind::Internal => {
            "The request failed because of a problem on our side; quote the instance to support."
        }
    };
    sentence.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Ctx {
        Ctx {
            request_id: "0b6f5a8e-4f38-4c43-9d3f-2f0f2f7b9a11".to_owned(),
            session: None,
            currency: "USD".to_owned(),
        }
    }

    fn page(kind: PageKind, lines: &[&str], cause: Option<&str>) -> ErrorPage {
        ErrorPage {
            kind,
            lines: lines.iter().map(|line| (*line).to_owned()).collect(),
            cause: cause.map(str::to_owned),
        }
    }

    #[test]
    fn documents_say_what_to_do_and_hide_causes() {
        let bad = Problem::new(
            &ctx(),
            StatusCode::BAD_REQUEST,
            &page(PageKind::BadQuery, &["Field 'page_size' is invalid"], None),
        );
        let json = serde_json::to_value(&bad).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "type": "about:blank",
                "title": "Bad Request",
                "status": 400,
                "detail": "Field 'page_size' is invalid",
                "instance": "urn:uuid:0b6f5a8e-4f38-4c43-9d3f-2f0f2f7b9a11",
            })
        );
        let internal = Problem::new(
            &ctx(),
            StatusCode::INTERNAL_SERVER_ERROR,
            &page(PageKind::Internal, &[], Some("secret detail")),
        );
        assert!(!internal.detail.contains("secret"));
        let response = internal.into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(response.headers()[header::CONTENT_TYPE], CONTENT_TYPE);
    }
}
