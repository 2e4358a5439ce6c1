//! Accounts and sessions: `POST /api/v1/accounts` (sign up, 201),
//! `POST /api/v1/sessions` (sign in, 200 with `{"token": …}`),
//! `DELETE /api/v1/sessions/current` (sign this token out, 204) and
//! `GET /api/v1/accounts/me`.
//!
//! The token is the accounts service's bearer token: send it back as
//! `Authorization: Bearer <token>`. As on the pages, signing up or in with a
//! guest session cookie brings that guest's cart and orders into the account
//! (see [`crate::account::adopt`]). Refusals are told apart by the accounts
//! service's reasons: `INVALID_CREDENTIALS` 401 (the same for an unknown
//! email), `WEAK_PASSWORD` 422, `EMAIL_TAKEN` 409, `SIGN_IN_THROTTLED` 429
//! with `Retry-After`, a busy or absent accounts service 503.

use axum::{
    Json,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use boutique_proto::boutique::accounts::v1::{SignInRequest, SignUpRequest};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    State as AppState,
    account::{self, Refusal, RefusalKind, SignedIn},
    api::{
        caller::ApiCaller,
        extract::ApiJson,
        problem::{ApiError, Code, FieldProblem, Problem},
    },
    backends::BackendError,
    cookies::{ACCOUNT_COOKIE, SESSION_COOKIE},
    orders::{rfc3339, utc},
};

/// Create an account.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct SignUpBody {
    #[schema(example = "ada@example.com", max_length = 254, format = Email)]
    pub(crate) email: String,
    /// 10 to 128 characters, not one of the commonest passwords, not the email.
    #[schema(example = "plum tart at noon", min_length = 10, max_length = 128, format = Password)]
    pub(crate) password: String,
    /// Optional: the part of the email before `@` when left out.
    #[schema(example = "Ada", max_length = 64)]
    #[serde(default)]
    pub(crate) display_name: Option<String>,
}

/// Sign in.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct SignInBody {
    #[schema(example = "ada@example.com", max_length = 254, format = Email)]
    pub(crate) email: String,
    #[schema(example = "plum tart at noon", max_length = 128, format = Password)]
    pub(crate) password: String,
}

/// An account, as its owner sees it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Account)]
pub(crate) struct AccountJson {
    /// `acct-<uuid>`.
    #[schema(example = "acct-0b6f5a8e-4f38-4c43-9d3f-2f0f2f7b9a11")]
    id: String,
    #[schema(example = "ada@example.com")]
    email: String,
    #[schema(example = "Ada")]
    display_name: String,
    /// RFC 3339, UTC.
    created_at: String,
}

/// A signed-in session.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Session)]
pub(crate) struct SessionJson {
    /// The bearer token: send it as `Authorization: Bearer <token>`. Keep it
    /// secret; it works until `expires_at` or until signed out.
    token: String,
    /// RFC 3339, UTC.
    expires_at: String,
    account: AccountJson,
}

/// Create an account and sign it in.
#[utoipa::path(
    post,
    path = "/api/v1/accounts",
    tag = "accounts",
    operation_id = "signUp",
    security((), ("bearer" = [])),
    request_body(content = SignUpBody, content_type = "application/json"),
    responses(
        (status = 201, description = "Created and signed in; the caller's guest cart and orders (with the session cookie) are the account's now.", body = SessionJson,
            headers(("Location" = String, description = "`/api/v1/accounts/me`."))),
        (status = 401, description = "A bearer token was sent and it is malformed, expired, signed out or its account is gone (UNAUTHENTICATED).", body = crate::api::problem::Problem, content_type = "application/problem+json",
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"boutique\", error=\"invalid_token\"`."))),
        (status = 400, description = "The body is not JSON.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A browser sent it from another site.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "EMAIL_TAKEN: the email has an account.", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large.", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not `application/json`.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "WEAK_PASSWORD, or VALIDATION_FAILED (an email that is not one, a bad display name).", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The accounts service is busy or not answering.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn sign_up(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<SignUpBody>,
) -> Result<Response, ApiError> {
    required(&[("/email", &body.email), ("/password", &body.password)])?;
    let request = SignUpRequest {
        email: body.email,
        display_name: body.display_name.unwrap_or_default(),
        password: body.password,
        client_address: caller.ctx().client_address.clone(),
    };
    let reply = state
        .backends
        .sign_up(request)
        .await
        .map_err(|error| refused(&error))?;
    let signed_in = SignedIn::from_reply(reply.account, reply.token, reply.expires_at_ms)
        .ok_or_else(|| ApiError::internal("a sign-up without its account"))?;
    tracing::info!(account_id = %signed_in.id, "Signed up through the API.");
    let mut response = (StatusCode::CREATED, Json(session_json(&signed_in)?)).into_response();
    let location = format!("{}/api/v1/accounts/me", state.config.base_url);
    if let Ok(location) = HeaderValue::try_from(location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    adopt(&state, &caller, &signed_in, &mut response).await;
    Ok(response)
}

/// Sign in: a bearer token for the account.
#[utoipa::path(
    post,
    path = "/api/v1/sessions",
    tag = "accounts",
    operation_id = "signIn",
    request_body(content = SignInBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Signed in; the caller's guest cart and orders (with the session cookie) are the account's now.", body = SessionJson),
        (status = 400, description = "The body is not JSON.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "INVALID_CREDENTIALS: the email or password is wrong (the same answer for an unknown email).", body = Problem, content_type = "application/problem+json",
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"boutique\"`."))),
        (status = 403, description = "A browser sent it from another site.", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large.", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not `application/json`.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_FAILED: a missing field, an email that is not one.", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "SIGN_IN_THROTTLED: too many failed sign-ins for the email or from this address.", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = String, description = "Seconds to wait."))),
        (status = 503, description = "The accounts service is busy or not answering.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn sign_in(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<SignInBody>,
) -> Result<Response, ApiError> {
    required(&[("/email", &body.email), ("/password", &body.password)])?;
    let request = SignInRequest {
        email: body.email,
        password: body.password,
        client_address: caller.ctx().client_address.clone(),
    };
    let reply = state
        .backends
        .sign_in(request)
        .await
        .map_err(|error| refused(&error))?;
    let signed_in = SignedIn::from_reply(reply.account, reply.token, reply.expires_at_ms)
        .ok_or_else(|| ApiError::internal("a sign-in without its account"))?;
    tracing::info!(account_id = %signed_in.id, "Signed in through the API.");
    let mut response = Json(session_json(&signed_in)?).into_response();
    adopt(&state, &caller, &signed_in, &mut response).await;
    Ok(response)
}

/// Sign this token out: it stops working at once, on every replica.
#[utoipa::path(
    delete,
    path = "/api/v1/sessions/current",
    tag = "accounts",
    operation_id = "signOut",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Signed out."),
        (status = 401, description = "UNAUTHENTICATED: no token, or one that no longer works.", body = Problem, content_type = "application/problem+json",
            headers(("WWW-Authenticate" = String, description = "The bearer challenge (RFC 6750)."))),
        (status = 403, description = "A browser sent it from another site.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The accounts service is not answering.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn sign_out(
    State(state): State<AppState>,
    caller: ApiCaller,
) -> Result<Response, ApiError> {
    let account = caller.account()?;
    state
        .backends
        .sign_out(account.token.as_str())
        .await
        .map_err(|error| refused(&error))?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    if caller.by_cookie()
        && let Some(cookie) = state
            .cookies
            .for_request(caller.ctx().https)
            .expire(ACCOUNT_COOKIE)
    {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// The signed-in account.
#[utoipa::path(
    get,
    path = "/api/v1/accounts/me",
    tag = "accounts",
    operation_id = "getMyAccount",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The account.", body = AccountJson),
        (status = 401, description = "UNAUTHENTICATED: no token, or one that no longer works.", body = Problem, content_type = "application/problem+json",
            headers(("WWW-Authenticate" = String, description = "The bearer challenge (RFC 6750)."))),
        (status = 503, description = "The accounts service is not answering.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn me(caller: ApiCaller) -> Result<Json<AccountJson>, ApiError> {
    Ok(Json(account_json(caller.account()?)?))
}

fn account_json(account: &SignedIn) -> Result<AccountJson, ApiError> {
    Ok(AccountJson {
        id: account.id.clone(),
        email: account.email.clone(),
        display_name: account.display_name.clone(),
        created_at: rfc3339(utc(account.created_at_ms).map_err(ApiError::from)?),
    })
}

fn session_json(account: &SignedIn) -> Result<SessionJson, ApiError> {
    Ok(SessionJson {
        token: account.token.as_str().to_owned(),
        expires_at: rfc3339(utc(account.expires_at_ms).map_err(ApiError::from)?),
        account: account_json(account)?,
    })
}

/// Brings the caller's guest session (its cookie) into the account, and
/// replaces the session when it did, as the pages do.
async fn adopt(state: &AppState, caller: &ApiCaller, account: &SignedIn, response: &mut Response) {
    let ctx = caller.ctx();
    if account::adopt(state, ctx.session_id(), ctx.new_session, &account.id).await
        && !ctx.new_session
    {
        let (_, value) = state.sessions.fresh();
        if let Some(cookie) = state
            .cookies
            .for_request(ctx.https)
            .set(SESSION_COOKIE, &value)
        {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
    }
}

/// Fields that must not be empty: a 422 naming each.
pub(crate) fn required(fields: &[(&str, &str)]) -> Result<(), ApiError> {
    let missing: Vec<FieldProblem> = fields
        .iter()
        .filter(|(_, value)| value.trim().is_empty())
        .map(|(field, _)| FieldProblem {
            field: (*field).to_owned(),
            reason: "is required".to_owned(),
        })
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ApiError::fields(Code::ValidationFailed, missing))
    }
}

/// A refused accounts call as a problem (see the module documentation).
pub(crate) fn refused(error: &BackendError) -> ApiError {
    let Refusal {
        kind,
        message,
        retry_after,
    } = account::refusal(error);
    let problem = match kind {
        RefusalKind::BadCredentials => {
            ApiError::new(Code::InvalidCredentials, message).with_challenge()
        }
        RefusalKind::WeakPassword => ApiError::field(Code::WeakPassword, "/password", message),
        RefusalKind::EmailTaken => ApiError::new(Code::EmailTaken, message),
        RefusalKind::Throttled => ApiError::new(Code::SignInThrottled, message),
        RefusalKind::SignedOut => ApiError::unauthenticated(
            "the bearer token is not valid any more; sign in again",
            true,
        ),
        RefusalKind::Invalid => {
            let field = ["email", "display_name", "password"]
                .into_iter()
                .find(|field| message.to_ascii_lowercase().starts_with(field))
                .map_or_else(String::new, |field| format!("/{field}"));
            if field.is_empty() {
                ApiError::new(Code::ValidationFailed, message)
            } else {
                ApiError::field(Code::ValidationFailed, &field, message)
            }
        }
        RefusalKind::Overloaded | RefusalKind::Unavailable => {
            ApiError::new(Code::ServiceUnavailable, message).caused_by(error.to_string())
        }
        RefusalKind::Internal => ApiError::internal(error.to_string()),
    };
    match retry_after {
        Some(seconds) if kind == RefusalKind::Throttled => problem.retry_after(seconds),
        _ => problem,
    }
}
