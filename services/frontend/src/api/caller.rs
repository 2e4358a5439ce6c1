//! Who is calling the API: the one place that resolves a caller's identity.
//!
//! - `Authorization: Bearer <token>` (a token from `POST /api/v1/sessions` or
//!   `POST /api/v1/accounts`) is checked with the accounts service on every
//!   request: a malformed, tampered, expired or signed-out token, or one whose
//!   account is gone, is a 401 with `WWW-Authenticate: Bearer
//!   error="invalid_token"` (RFC 6750), never a guest's answer; the accounts
//!   service being down is a 503.
//! - Without it, the pages' account cookie (`shop_account`, resolved by the
//!   request middleware) signs the caller in, so a browser sees the same
//!   cart and orders through the pages and the API.
//! - Otherwise the caller is a guest: the signed session cookie the request
//!   middleware resolves (or mints: a client without a cookie gets a new
//!   session and its `Set-Cookie`).
//!
//! Handlers ask only [`ApiCaller::cart_id`], [`ApiCaller::owner`] and, for
//! operations that need an account, [`ApiCaller::account`] (401 for a guest).

use axum::{
    extract::FromRequestParts,
    http::{header, request::Parts},
};
use tonic::Code as GrpcCode;

use crate::{
    State as AppState,
    account::{MAX_TOKEN_LEN, SignedIn, Token},
    api::problem::{ApiError, Code},
    ctx::Ctx,
};

/// How the caller is known.
#[derive(Debug, Clone)]
enum Identity {
    /// A guest session: its id keys the cart and owns the orders.
    Guest,
    /// A signed-in account (a bearer token, or the pages' account cookie).
    Account {
        account: SignedIn,
        /// True for a bearer token, false for the account cookie.
        bearer: bool,
    },
}

/// The caller of an API operation.
#[derive(Debug, Clone)]
pub(crate) struct ApiCaller {
    identity: Identity,
    /// What the middleware resolved: the session, the currency cookie and
    /// the request id.
    ctx: Ctx,
}

impl ApiCaller {
    /// The cart the caller shops with (checkout's `user_id`).
    pub(crate) fn cart_id(&self) -> &str {
        match &self.identity {
            Identity::Guest => self.ctx.session_id(),
            Identity::Account { account, .. } => &account.id,
        }
    }

    /// The owner of the caller's orders.
    pub(crate) fn owner(&self) -> &str {
        self.cart_id()
    }

    /// The signed-in account, or a 401 asking for a bearer token.
    pub(crate) fn account(&self) -> Result<&SignedIn, ApiError> {
        match &self.identity {
            Identity::Account { account, .. } => Ok(account),
            Identity::Guest => Err(ApiError::unauthenticated(
                "this operation needs a signed-in account: send Authorization: Bearer <token> \
                 (POST /api/v1/sessions gives one)",
                false,
            )),
        }
    }

    /// True when the account came from the pages' cookie, not a bearer token.
    pub(crate) fn by_cookie(&self) -> bool {
        matches!(self.identity, Identity::Account { bearer: false, .. })
    }

    /// The currency the caller chose on the pages (the currency cookie), or USD.
    pub(crate) fn currency(&self) -> &str {
        &self.ctx.currency
    }

    /// What the middleware learned about the request.
    pub(crate) fn ctx(&self) -> &Ctx {
        &self.ctx
    }
}

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ctx =
            parts.extensions.get::<Ctx>().cloned().ok_or_else(|| {
                ApiError::internal("no request context: the middleware is missing")
            })?;
        if ctx.session.is_none() {
            // Only sessionless routes (health, the API's own description)
            // lack one, and they take no caller.
            return Err(
                ApiError::new(Code::Internal, "").caused_by("an API route without a session")
            );
        }
        let identity = match bearer(parts)? {
            Some(token) => Identity::Account {
                account: authenticate(state, token).await?,
                bearer: true,
            },
            None => match &ctx.account {
                Some(account) => Identity::Account {
                    account: account.clone(),
                    bearer: false,
                },
                None => Identity::Guest,
            },
        };
        Ok(Self { identity, ctx })
    }
}

/// The bearer token of the `Authorization` header, if it uses that scheme
/// (another scheme is not ours to read: the caller is then a guest). An
/// empty or unreadable token is a 401.
fn bearer(parts: &Parts) -> Result<Option<&str>, ApiError> {
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let invalid = || {
        ApiError::unauthenticated(
            "the Authorization header does not carry a usable bearer token",
            true,
        )
    };
    let text = value.to_str().map_err(|_| invalid())?;
    let Some((scheme, token)) = text.trim().split_once(' ') else {
        return if text.trim().eq_ignore_ascii_case("bearer") {
            Err(invalid())
        } else {
            Ok(None)
        };
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    let token = token.trim();
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Err(invalid());
    }
    Ok(Some(token))
}

/// The account a bearer token belongs to; 401 when the accounts service
/// refuses it, 503 when it does not answer.
async fn authenticate(state: &AppState, token: &str) -> Result<SignedIn, ApiError> {
    match state.backends.authenticate(token).await {
        Ok((account, expires_at_ms)) => Ok(SignedIn::new(
            account,
            Token::new(token.to_owned()),
            expires_at_ms,
        )),
        Err(error)
            if matches!(
                error.code(),
                Some(GrpcCode::Unauthenticated | GrpcCode::InvalidArgument)
            ) =>
        {
            Err(ApiError::unauthenticated(
                "the bearer token is not valid: it is malformed, expired, signed out, or its \
                 account is gone; sign in again",
                true,
            ))
        }
        Err(error) => Err(error.into()),
    }
}
