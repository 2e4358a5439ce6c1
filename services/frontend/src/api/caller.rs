//! Who is calling the API: the one place that resolves a caller's identity.
//!
//! Today every caller is a guest: the signed session cookie the request
//! middleware resolves (or mints, exactly as for the pages: a client without
//! a cookie gets a new session and its `Set-Cookie`), so a guest's cart and
//! orders are the same through the pages and the API. When accounts arrive,
//! `Authorization: Bearer <token>` is checked here (verified with the
//! accounts service, an account variant added to [`Identity`]); handlers ask
//! only [`ApiCaller::cart_id`] and [`ApiCaller::owner`], so none of them
//! changes.

use axum::{extract::FromRequestParts, http::request::Parts};

use crate::{
    State as AppState,
    api::problem::{ApiError, Code},
    ctx::Ctx,
};

/// How the caller is known.
#[derive(Debug, Clone)]
enum Identity {
    /// A guest session: its id keys the cart and owns the orders.
    Guest,
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
        match self.identity {
            Identity::Guest => self.ctx.session_id(),
        }
    }

    /// The owner of the caller's orders.
    pub(crate) fn owner(&self) -> &str {
        match self.identity {
            Identity::Guest => self.ctx.session_id(),
        }
    }

    /// The currency the caller chose on the pages (the currency cookie), or USD.
    pub(crate) fn currency(&self) -> &str {
        &self.ctx.currency
    }
}

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, ApiError> {
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
        Ok(Self {
            identity: Identity::Guest,
            ctx,
        })
    }
}
