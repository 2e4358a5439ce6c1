//! How the API says what went wrong: RFC 9457 problem documents
//! (`application/problem+json`), one shape for every error under
//! `{BASE_URL}/api/` and `/health`.
//!
//! Handlers fail with [`ApiError`]: a stable [`Code`] (which fixes the
//! status, the `type` and the `title`), a `detail` for the client, and the
//! cause for the log. Its `IntoResponse` only sets the status and attaches an
//! [`ErrorPage`] plus the [`Extras`]; the request middleware, which knows the
//! request id, renders the document ([`Problem::render`]), so errors the
//! handlers never see (an unknown path, a wrong method, a timeout, a
//! cross-site post, an [`AppError`] from code shared with the pages) come out
//! in the same shape with a code derived from their status.
//!
//! A client mistake explains itself in `detail` (and `errors`, one entry per
//! bad field, named by JSON pointer or parameter name); a fault of ours says
//! only that it happened, and `instance` (the request id, a `urn:uuid:`) is
//! what support needs to find the logged cause. `type` is a reference into the
//! API reference page (`{BASE_URL}/api/v1/docs#problem-<code>`), where every
//! code is explained.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    backends::{Backend, BackendError},
    ctx::Ctx,
    error::{AppError, ErrorPage, PageKind},
};

/// The media type of a problem document.
pub(crate) const CONTENT_TYPE: &str = "application/problem+json";

/// Seconds a client should wait before retrying after a 503.
pub(crate) const RETRY_AFTER_SECS: &str = "2";

/// Every kind of problem the API reports: the `code` member. Part of the
/// API's contract: never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Code {
    BadRequest,
    MalformedJson,
    InvalidParameter,
    BadIdempotencyKey,
    CrossSiteRequest,
    Unauthenticated,
    InvalidCredentials,
    NotFound,
    MethodNotAllowed,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
    UnsupportedCurrency,
    UnknownProduct,
    QuantityLimit,
    OrderRefused,
    IdempotencyKeyReused,
    WeakPassword,
    EmailTaken,
    OrderInProgress,
    SignInThrottled,
    RatingRateLimited,
    PaymentUncertain,
    ChargedNotShipped,
    ServiceUnavailable,
    Internal,
}

impl Code {
    /// Every code, in the order the reference page lists them.
    pub(crate) const ALL: [Self; 26] = [
        Self::BadRequest,
        Self::MalformedJson,
        Self::InvalidParameter,
        Self::BadIdempotencyKey,
        Self::CrossSiteRequest,
        Self::Unauthenticated,
        Self::InvalidCredentials,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::ValidationFailed,
        Self::UnsupportedCurrency,
        Self::UnknownProduct,
        Self::QuantityLimit,
        Self::OrderRefused,
        Self::IdempotencyKeyReused,
        Self::WeakPassword,
        Self::EmailTaken,
        Self::OrderInProgress,
        Self::SignInThrottled,
        Self::RatingRateLimited,
        Self::PaymentUncertain,
        Self::ChargedNotShipped,
        Self::ServiceUnavailable,
        Self::Internal,
    ];

    /// The `code` member.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "BAD_REQUEST",
            Self::MalformedJson => "MALFORMED_JSON",
            Self::InvalidParameter => "INVALID_PARAMETER",
            Self::BadIdempotencyKey => "BAD_IDEMPOTENCY_KEY",
            Self::CrossSiteRequest => "CROSS_SITE_REQUEST",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::InvalidCredentials => "INVALID_CREDENTIALS",
            Self::NotFound => "NOT_FOUND",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::ValidationFailed => "VALIDATION_FAILED",
            Self::UnsupportedCurrency => "UNSUPPORTED_CURRENCY",
            Self::UnknownProduct => "UNKNOWN_PRODUCT",
            Self::QuantityLimit => "QUANTITY_LIMIT",
            Self::OrderRefused => "ORDER_REFUSED",
            Self::IdempotencyKeyReused => "IDEMPOTENCY_KEY_REUSED",
            Self::WeakPassword => "WEAK_PASSWORD", // pragma: allowlist secret (a code)
            Self::EmailTaken => "EMAIL_TAKEN",
            Self::OrderInProgress => "ORDER_IN_PROGRESS",
            Self::SignInThrottled => "SIGN_IN_THROTTLED",
            Self::RatingRateLimited => "RATING_RATE_LIMITED",
            Self::PaymentUncertain => "PAYMENT_UNCERTAIN",
            Self::ChargedNotShipped => "CHARGED_NOT_SHIPPED",
            Self::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            Self::Internal => "INTERNAL",
        }
    }

    /// The status every problem of this code has.
    pub(crate) fn status(self) -> StatusCode {
        match self {
            Self::BadRequest | Self::MalformedJson | Self::InvalidParameter => {
                StatusCode::BAD_REQUEST
            }
            Self::BadIdempotencyKey => StatusCode::BAD_REQUEST,
            Self::CrossSiteRequest => StatusCode::FORBIDDEN,
            Self::Unauthenticated | Self::InvalidCredentials => StatusCode::UNAUTHORIZED,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::ValidationFailed
            | Self::UnsupportedCurrency
            | Self::UnknownProduct
            | Self::QuantityLimit
            | Self::OrderRefused
            | Self::IdempotencyKeyReused
            | Self::WeakPassword => StatusCode::UNPROCESSABLE_ENTITY,
            Self::OrderInProgress | Self::EmailTaken => StatusCode::CONFLICT,
            Self::SignInThrottled | Self::RatingRateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::PaymentUncertain | Self::ChargedNotShipped | Self::ServiceUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `title`: the same for every occurrence of the code.
    pub(crate) fn title(self) -> &'static str {
        match self {
            Self::BadRequest => "Bad request",
            Self::MalformedJson => "Malformed JSON body",
            Self::InvalidParameter => "Invalid query parameter",
            Self::BadIdempotencyKey => "Invalid Idempotency-Key",
            Self::CrossSiteRequest => "Cross-site request refused",
            Self::Unauthenticated => "Authentication required",
            Self::InvalidCredentials => "Invalid credentials",
            Self::NotFound => "Not found",
            Self::MethodNotAllowed => "Method not allowed",
            Self::PayloadTooLarge => "Request body too large",
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::ValidationFailed => "Validation failed",
            Self::UnsupportedCurrency => "Unsupported currency",
            Self::UnknownProduct => "Unknown product",
            Self::QuantityLimit => "Quantity limit reached",
            Self::OrderRefused => "Order refused",
            Self::IdempotencyKeyReused => "Idempotency key reused",
            Self::WeakPassword => "Weak password", // pragma: allowlist secret (a title)
            Self::EmailTaken => "Email taken",
            Self::OrderInProgress => "Order in progress",
            Self::SignInThrottled => "Sign-in throttled",
            Self::RatingRateLimited => "Too many rating writes",
            Self::PaymentUncertain => "Payment uncertain",
            Self::ChargedNotShipped => "Charged, not shipped",
            Self::ServiceUnavailable => "Service unavailable",
            Self::Internal => "Internal error",
        }
    }

    /// What the reference page says about it.
    pub(crate) fn explanation(self) -> &'static str {
        match self {
            Self::BadRequest => "The request could not be understood.",
            Self::MalformedJson => "The body is not JSON, or is cut short.",
            Self::InvalidParameter => {
                "A query parameter (page_size, page_token, q) is out of range or malformed."
            }
            Self::BadIdempotencyKey => {
                "The Idempotency-Key header is not 1 to 255 visible ASCII characters."
            }
            Self::CrossSiteRequest => {
                "A browser said the request came from another site (Origin or Sec-Fetch-Site)."
            }
            Self::Unauthenticated => {
                "The operation needs a signed-in account: send Authorization: Bearer <token> \
                 (POST /api/v1/sessions gives one). Also answered for a token that is malformed, \
                 expired, signed out or whose account is gone (WWW-Authenticate says which)."
            }
            Self::InvalidCredentials => {
                "The email or the password is wrong; an unknown email gets the same answer."
            }
            Self::NotFound => "Nothing is at this address: an unknown path, product or order.",
            Self::MethodNotAllowed => "The path exists, but not with this method; see Allow.",
            Self::PayloadTooLarge => "The body is larger than the API accepts.",
            Self::UnsupportedMediaType => "A body must be sent as Content-Type: application/json.",
            Self::ValidationFailed => {
                "The body or a value in it is wrong (a missing field, a wrong type, a quantity \
                 outside 1 to 10, a bad card); `errors` names each field by JSON pointer."
            }
            Self::UnsupportedCurrency => {
                "The currency asked for (?currency=) is not one GET /api/v1/currencies lists."
            }
            Self::UnknownProduct => "The body names a product the catalog does not have.",
            Self::QuantityLimit => "The cart cannot hold more of this product.",
            Self::OrderRefused => {
                "Checkout refused the order: the card was declined, or the cart is empty. \
                 Nothing was charged; `detail` says why."
            }
            Self::IdempotencyKeyReused => {
                "The Idempotency-Key was already used for a different checkout request."
            }
            Self::WeakPassword => {
                "The password breaks a rule: 10 to 128 characters, not one of the commonest \
                 passwords, not the email; `detail` says which."
            }
            Self::EmailTaken => "An account with this email (in any case) exists already.",
            Self::OrderInProgress => {
                "Another order for this cart is being placed right now; nothing more was charged. \
                 `order_id` names it when known."
            }
            Self::SignInThrottled => {
                "Too many failed sign-ins for this email or from this address; retry after \
                 Retry-After seconds."
            }
            Self::RatingRateLimited => {
                "The account wrote too many ratings in a short time; nothing was written. Retry \
                 after Retry-After seconds."
            }
            Self::PaymentUncertain => {
                "The card may have been charged and the order is recorded for follow-up \
                 (`order_id`): do not pay again; replay the same Idempotency-Key later."
            }
            Self::ChargedNotShipped => {
                "The card was charged but the order could not be shipped; it is recorded for \
                 follow-up (`order_id`): do not pay again."
            }
            Self::ServiceUnavailable => {
                "A service this request needs is not answering; retry after Retry-After seconds."
            }
            Self::Internal => {
                "A fault of ours; quote `instance` to support. Retrying may not help."
            }
        }
    }

    /// The anchor on the reference page: `problem-` and the code in kebab case.
    pub(crate) fn anchor(self) -> String {
        format!(
            "problem-{}",
            self.as_str().to_ascii_lowercase().replace('_', "-")
        )
    }

    /// The code of an error that did not come from an API handler.
    fn of(status: StatusCode, kind: PageKind) -> Self {
        match (status, kind) {
            (StatusCode::NOT_FOUND, _) => Self::NotFound,
            (StatusCode::METHOD_NOT_ALLOWED, _) => Self::MethodNotAllowed,
            (StatusCode::FORBIDDEN, _) => Self::CrossSiteRequest,
            (StatusCode::UNAUTHORIZED, _) => Self::Unauthenticated,
            (StatusCode::PAYLOAD_TOO_LARGE, _) => Self::PayloadTooLarge,
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, _) => Self::UnsupportedMediaType,
            (StatusCode::UNPROCESSABLE_ENTITY, _) => Self::ValidationFailed,
            (StatusCode::BAD_REQUEST, PageKind::BadQuery) => Self::InvalidParameter,
            (StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT, _) => {
                Self::ServiceUnavailable
            }
            (status, _) if status.is_client_error() => Self::BadRequest,
            _ => Self::Internal,
        }
    }
}

/// One bad field or parameter.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct FieldProblem {
    /// A JSON pointer into the body (`/credit_card/number`) or a query
    /// parameter's name (`page_size`).
    #[schema(example = "/quantity")]
    pub(crate) field: String,
    /// What is wrong with it.
    #[schema(example = "must be a whole number from 1 to 10")]
    pub(crate) reason: String,
}

/// What an API handler adds to the generic document.
#[derive(Debug, Clone)]
pub(crate) struct Extras {
    code: Code,
    detail: String,
    errors: Vec<FieldProblem>,
    order_id: Option<String>,
}

/// An API handler's failure; see the module documentation.
#[derive(Debug)]
pub(crate) struct ApiError {
    extras: Extras,
    /// For the log only.
    cause: Option<String>,
    /// The `WWW-Authenticate` challenge of a 401.
    challenge: Option<Challenge>,
    /// Seconds for `Retry-After` (429; a 503 always says [`RETRY_AFTER_SECS`]).
    retry_after: Option<u32>,
}

/// What a 401's `WWW-Authenticate` says (RFC 6750).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Challenge {
    /// Send a bearer token.
    Bearer,
    /// The bearer token sent does not work (`error="invalid_token"`).
    InvalidToken,
}

impl Challenge {
    fn header(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Self::Bearer => "Bearer realm=\"boutique\"",
            Self::InvalidToken => "Bearer realm=\"boutique\", error=\"invalid_token\"",
        })
    }
}

impl ApiError {
    /// A problem of `code` explained by `detail`.
    pub(crate) fn new(code: Code, detail: impl Into<String>) -> Self {
        Self {
            extras: Extras {
                code,
                detail: detail.into(),
                errors: Vec::new(),
                order_id: None,
            },
            cause: None,
            challenge: None,
            retry_after: None,
        }
    }

    /// A 401 asking for a bearer token; `token_refused` when one was sent
    /// and does not work (RFC 6750's `invalid_token`).
    pub(crate) fn unauthenticated(detail: impl Into<String>, token_refused: bool) -> Self {
        let mut problem = Self::new(Code::Unauthenticated, detail);
        problem.challenge = Some(if token_refused {
            Challenge::InvalidToken
        } else {
            Challenge::Bearer
        });
        problem
    }

    /// The same error, asking for credentials again (`WWW-Authenticate`).
    #[must_use]
    pub(crate) fn with_challenge(mut self) -> Self {
        self.challenge = Some(Challenge::Bearer);
        self
    }

    /// The same error, telling the client when to try again.
    #[must_use]
    pub(crate) fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(u32::try_from(seconds).unwrap_or(u32::MAX));
        self
    }

    /// A 422 naming each bad field.
    pub(crate) fn fields(code: Code, errors: Vec<FieldProblem>) -> Self {
        let detail = errors
            .iter()
            .map(|error| format!("{}: {}", error.field, error.reason))
            .collect::<Vec<_>>()
            .join("; ");
        let mut error = Self::new(code, detail);
        error.extras.errors = errors;
        error
    }

    /// One bad field.
    pub(crate) fn field(code: Code, field: &str, reason: impl Into<String>) -> Self {
        Self::fields(
            code,
            vec![FieldProblem {
                field: field.to_owned(),
                reason: reason.into(),
            }],
        )
    }

    /// A fault of ours, with the cause kept for the log.
    pub(crate) fn internal(cause: impl Into<String>) -> Self {
        Self::new(Code::Internal, "").caused_by(cause)
    }

    /// The same error, with `cause` logged.
    #[must_use]
    pub(crate) fn caused_by(mut self, cause: impl Into<String>) -> Self {
        self.cause = Some(cause.into());
        self
    }

    /// The same error naming the order it is about.
    #[must_use]
    pub(crate) fn with_order(mut self, order_id: Option<String>) -> Self {
        self.extras.order_id = order_id.filter(|id| !id.is_empty());
        self
    }

    /// The code, for tests.
    #[cfg(test)]
    pub(crate) fn code(&self) -> Code {
        self.extras.code
    }
}

impl From<BackendError> for ApiError {
    fn from(error: BackendError) -> Self {
        let code = if matches!(
            &error,
            BackendError::Status { backend: Backend::Catalog, status }
                if status.code() == tonic::Code::NotFound
        ) {
            Code::NotFound
        } else if error.is_unavailable() {
            Code::ServiceUnavailable
        } else {
            Code::Internal
        };
        Self::new(code, "").caused_by(error.to_string())
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        match error {
            AppError::NotFound => Self::new(Code::NotFound, ""),
            AppError::BadQuery(errors) => Self::fields(
                Code::InvalidParameter,
                errors
                    .iter()
                    .map(|error| FieldProblem {
                        field: error.field.to_owned(),
                        reason: error.reason.to_owned(),
                    })
                    .collect(),
            ),
            AppError::Backend(error) => error.into(),
            other => Self::internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = self.extras.code;
        let status = code.status();
        let kind = match status {
            StatusCode::NOT_FOUND => PageKind::NotFound,
            StatusCode::TOO_MANY_REQUESTS => PageKind::TooMany,
            StatusCode::SERVICE_UNAVAILABLE => PageKind::Unavailable,
            StatusCode::FORBIDDEN => PageKind::Forbidden,
            status if status.is_server_error() => PageKind::Internal,
            _ => PageKind::BadRequest,
        };
        let mut response = status.into_response();
        response.extensions_mut().insert(ErrorPage {
            kind,
            lines: Vec::new(),
            cause: self.cause,
        });
        response.extensions_mut().insert(self.extras);
        let headers = response.headers_mut();
        if let Some(challenge) = self.challenge {
            headers.insert(header::WWW_AUTHENTICATE, challenge.header());
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// A problem document (RFC 9457, section 3) with our extension members.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Problem)]
pub(crate) struct Problem {
    /// A reference to this code's explanation on the API reference page.
    #[serde(rename = "type")]
    #[schema(example = "/api/v1/docs#problem-not-found")]
    kind: String,
    /// The code's title, the same for every occurrence.
    #[schema(example = "Not found")]
    title: &'static str,
    /// The HTTP status.
    #[schema(example = 404)]
    status: u16,
    /// What went wrong this time and what to do about it.
    detail: String,
    /// This occurrence: the request id, as logged.
    #[schema(example = "urn:uuid:0b6f5a8e-4f38-4c43-9d3f-2f0f2f7b9a11")]
    instance: String,
    /// The stable code; see the reference page.
    #[schema(example = "NOT_FOUND")]
    code: &'static str,
    /// One entry per bad field or parameter (validation problems only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<FieldProblem>,
    /// The order the problem is about (ORDER_IN_PROGRESS, PAYMENT_UNCERTAIN,
    /// CHARGED_NOT_SHIPPED), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    order_id: Option<String>,
}

impl Problem {
    /// The document for an error response with `status` under `base`; the
    /// handler's [`Extras`], if it was an API handler's [`ApiError`].
    pub(crate) fn render(
        base: &str,
        ctx: &Ctx,
        status: StatusCode,
        page: &ErrorPage,
        extras: Option<Extras>,
    ) -> Response {
        let extras = extras.unwrap_or_else(|| {
            let code = Code::of(status, page.kind);
            Extras {
                code,
                detail: if page.lines.is_empty() {
                    String::new()
                } else {
                    page.lines.join("; ")
                },
                errors: Vec::new(),
                order_id: None,
            }
        });
        let code = extras.code;
        // A fault of ours never explains itself beyond its code, except
        // checkout's own words about a card that may have been charged.
        let says_own_words = matches!(code, Code::PaymentUncertain | Code::ChargedNotShipped);
        let detail = if extras.detail.is_empty() || (status.is_server_error() && !says_own_words) {
            code.explanation().to_owned()
        } else {
            extras.detail
        };
        let problem = Self {
            kind: format!("{base}/api/v1/docs#{}", code.anchor()),
            title: code.title(),
            status: status.as_u16(),
            detail,
            instance: format!("urn:uuid:{}", ctx.request_id),
            code: code.as_str(),
            errors: extras.errors,
            order_id: extras.order_id,
        };
        let mut response = (status, Json(problem)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        if status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECS),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Ctx {
        Ctx {
            request_id: "0b6f5a8e-4f38-4c43-9d3f-2f0f2f7b9a11".to_owned(),
            session: None,
            new_session: false,
            account: None,
            currency: "USD".to_owned(),
            path: "/".to_owned(),
            client_address: String::new(),
            https: false,
        }
    }

    fn page(kind: PageKind, lines: &[&str], cause: Option<&str>) -> ErrorPage {
        ErrorPage {
            kind,
            lines: lines.iter().map(|line| (*line).to_owned()).collect(),
            cause: cause.map(str::to_owned),
        }
    }

    async fn json(response: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn documents_say_what_to_do_and_hide_causes() {
        let bad = Problem::render(
            "/b",
            &ctx(),
            StatusCode::BAD_REQUEST,
            &page(PageKind::BadQuery, &["page_size is invalid"], None),
            None,
        );
        assert_eq!(
            json(bad).await,
            serde_json::json!({
                "type": "/b/api/v1/docs#problem-invalid-parameter",
                "title": "Invalid query parameter",
                "status": 400,
                "detail": "page_size is invalid",
                "instance": "urn:uuid:0b6f5a8e-4f38-4c43-9d3f-2f0f2f7b9a11",
                "code": "INVALID_PARAMETER",
            })
        );
        let internal = ApiError::internal("secret detail").into_response();
        let page = internal.extensions().get::<ErrorPage>().unwrap().clone();
        let extras = internal.extensions().get::<Extras>().cloned();
        let response = Problem::render("", &ctx(), internal.status(), &page, extras);
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(response.headers()[header::CONTENT_TYPE], CONTENT_TYPE);
        let body = json(response).await;
        assert!(!body.to_string().contains("secret"), "{body}");
        assert_eq!(body["code"], "INTERNAL");
    }

    #[test]
    fn every_code_has_its_own_anchor_and_a_status_of_its_class() {
        let mut anchors: Vec<String> = Code::ALL.iter().map(|code| code.anchor()).collect();
        anchors.sort();
        anchors.dedup();
        assert_eq!(anchors.len(), Code::ALL.len());
        for code in Code::ALL {
            let status = code.status();
            assert!(
                status.is_client_error() || status.is_server_error(),
                "{code:?}"
            );
        }
        assert_eq!(Code::OrderInProgress.anchor(), "problem-order-in-progress");
    }
}
