//! Who is asking: what the request middleware learns about a request (its id,
//! the shopper's session and currency) and hands to the handlers and views.
//!
//! It lives apart from the middleware so that the views, which the middleware
//! calls to render error pages, need nothing from the middleware.

use crate::session::SessionId;

/// Set on every request for the handlers.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    /// A fresh UUIDv4 per request, shown in the footer and logged.
    pub(crate) request_id: String,
    /// The shopper's session; `None` on routes that need none (assets,
    /// health, robots.txt).
    pub(crate) session: Option<SessionId>,
    /// The shopper's currency (a code the header offers).
    pub(crate) currency: String,
}

impl Ctx {
    /// The session id as the backends know it (the cart's `user_id`); empty
    /// on routes without a session. Never log it: log [`Ctx::session_tag`].
    pub(crate) fn session_id(&self) -> &str {
        self.session.as_ref().map_or("", SessionId::as_str)
    }

    /// The session's short, non-reversible tag, for logs and the footer.
    pub(crate) fn session_tag(&self) -> &str {
        self.session.as_ref().map_or("none", SessionId::tag)
    }
}
