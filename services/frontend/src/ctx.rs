//! Who is asking: what the request middleware learns about a request (its id,
//! the shopper's session, account and currency, where it came from) and hands
//! to the handlers and views.
//!
//! It lives apart from the middleware so that the views, which the middleware
//! calls to render error pages, need nothing from the middleware.

use crate::{account::SignedIn, session::SessionId};

/// Set on every request for the handlers.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    /// A fresh UUIDv4 per request, shown in the footer and logged.
    pub(crate) request_id: String,
    /// The shopper's (guest) session; `None` on routes that need none
    /// (assets, health, robots.txt).
    pub(crate) session: Option<SessionId>,
    /// True when the session was minted for this request (nothing can be
    /// kept under it yet).
    pub(crate) new_session: bool,
    /// The signed-in account (the `shop_account` cookie, checked with the
    /// accounts service), if any.
    pub(crate) account: Option<SignedIn>,
    /// The shopper's currency (a code the header offers).
    pub(crate) currency: String,
    /// The request's path and query (under `BASE_URL`), where sign-in links
    /// bring the shopper back to.
    pub(crate) path: String,
    /// The client's address as the storefront sees it (see
    /// `TRUSTED_PROXY_HOPS`), for the sign-in throttle; empty when unknown.
    pub(crate) client_address: String,
    /// The request reached the shop over HTTPS (`X-Forwarded-Proto: https`
    /// from the proxy that ended TLS), so cookies get `Secure`.
    pub(crate) https: bool,
}

impl Ctx {
    /// The guest session's id (the cart's `user_id` while not signed in);
    /// empty on routes without a session. Never log it: log
    /// [`Ctx::session_tag`].
    pub(crate) fn session_id(&self) -> &str {
        self.session.as_ref().map_or("", SessionId::as_str)
    }

    /// Whom the shopper's cart and orders belong to: the signed-in account
    /// (`acct-<uuid>`), else the guest session (empty without one).
    pub(crate) fn shopper_id(&self) -> &str {
        self.account
            .as_ref()
            .map_or_else(|| self.session_id(), |account| account.id.as_str())
    }

    /// The session's short, non-reversible tag, for logs and the footer.
    pub(crate) fn session_tag(&self) -> &str {
        self.session.as_ref().map_or("none", SessionId::tag)
    }
}
