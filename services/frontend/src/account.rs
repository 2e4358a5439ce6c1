//! Signed-in shoppers: who a request's account is, what a guest brings into
//! their account when they sign in, and how the accounts service's refusals
//! read to a shopper.
//!
//! - **The web session** is the `shop_account` cookie: the accounts service's
//!   token (a signed JWT), `HttpOnly`, `SameSite=Lax`, `Secure` over HTTPS,
//!   living as long as the token. The request middleware asks the accounts
//!   service who it belongs to ([`resolve`]) on every request that carries
//!   it, so a token signed out anywhere (sign out everywhere, a password
//!   change, a deleted account) stops working at once; a refused token's
//!   cookie is expired and the request goes on as a guest's. The guest
//!   session (`shop_session-id`) stays beside it.
//! - **Whose cart and orders**: a signed-in shopper's cart is keyed by the
//!   account id (`acct-<uuid>`, never a bare UUID like a session's) and their
//!   orders are owned by it ([`crate::ctx::Ctx::shopper_id`]).
//! - **At sign-in and sign-up** ([`adopt`]) the guest cart is added to the
//!   account's and emptied, and the session's orders become the account's
//!   (the orders service's `TransferOrders`); then the shopper gets a new
//!   session id, so the one used as a guest names nothing afterwards (a
//!   planted session cannot follow anyone into their account). When either
//!   step fails the sign-in still succeeds, the session is kept, and the
//!   next sign-in finishes the move (both steps are safe to repeat).
//! - Tokens, passwords and emails never reach a log line: [`SignedIn`] and
//!   [`Token`] print only the account id.

use std::fmt;

use boutique_platform::error::error_reason;
use boutique_proto::{boutique::accounts::v1::Account, reasons};
use tonic::Code;

use crate::{
    State,
    backends::{BackendError, Backends},
    config::SHARED_SESSION_ID,
};

/// An accounts token: sent back to the accounts service as it is, never
/// printed.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Token(String);

impl Token {
    pub(crate) fn new(token: String) -> Self {
        Self(token)
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(..)")
    }
}

/// A shopper signed in to their account.
#[derive(Clone)]
pub(crate) struct SignedIn {
    /// `acct-<uuid>`: keys the cart, owns the orders.
    pub(crate) id: String,
    pub(crate) email: String,
    pub(crate) display_name: String,
    pub(crate) created_at_ms: i64,
    pub(crate) token: Token,
    /// When the token expires, in milliseconds since the Unix epoch.
    pub(crate) expires_at_ms: i64,
}

impl SignedIn {
    pub(crate) fn new(account: Account, token: Token, expires_at_ms: i64) -> Self {
        Self {
            id: account.id,
            email: account.email,
            display_name: account.display_name,
            created_at_ms: account.created_at_ms,
            token,
            expires_at_ms,
        }
    }

    /// The shopper a sign-in or sign-up answered with; `None` when the
    /// answer lacks its account (an accounts service breaking its contract).
    pub(crate) fn from_reply(
        account: Option<Account>,
        token: String,
        expires_at_ms: i64,
    ) -> Option<Self> {
        account.map(|account| Self::new(account, Token::new(token), expires_at_ms))
    }

    /// Seconds until the token expires (at least one), for the cookie.
    pub(crate) fn seconds_left(&self) -> i64 {
        let now = boutique_platform::clock::now_ms();
        ((self.expires_at_ms - now) / 1000).max(1)
    }
}

impl fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedIn")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// What the accounts service said about a request's account cookie.
#[derive(Debug)]
pub(crate) enum Resolved {
    /// The token is good.
    SignedIn(SignedIn),
    /// The token is not (expired, signed out, tampered with, its account
    /// deleted): expire the cookie, go on as a guest.
    Refused,
    /// The accounts service did not answer: go on as a guest for this
    /// request, keep the cookie.
    Unknown,
}

/// Who the token in the account cookie belongs to.
pub(crate) async fn resolve(backends: &Backends, token: &str) -> Resolved {
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Resolved::Refused;
    }
    match backends.authenticate(token).await {
        Ok((account, expires_at_ms)) => Resolved::SignedIn(SignedIn::new(
            account,
            Token::new(token.to_owned()),
            expires_at_ms,
        )),
        Err(error)
            if matches!(
                error.code(),
                Some(Code::Unauthenticated | Code::InvalidArgument)
            ) =>
        {
            Resolved::Refused
        }
        Err(error) => {
            tracing::warn!(error = %error, "Cannot check the account cookie; serving the request as a guest's.");
            Resolved::Unknown
        }
    }
}

/// The longest token we pass on (ours are about 300 bytes).
pub(crate) const MAX_TOKEN_LEN: usize = 4096;

/// Moves what the guest session `session_id` holds into the account: the
/// cart's lines are added to the account's cart (a line the account's cart
/// cannot take more of is left out) and the guest cart emptied, and the
/// session's orders become the account's. True when both are done (the
/// caller may then retire the session); false when either failed (logged;
/// both are safe to repeat at the next sign-in). Nothing is moved for a
/// session minted by this request or for the shared session of
/// `ENABLE_SINGLE_SHARED_SESSION`, which is everyone's.
pub(crate) async fn adopt(
    state: &State,
    session_id: &str,
    new_session: bool,
    account_id: &str,
) -> bool {
    if session_id.is_empty() || state.sessions.shared() || session_id == SHARED_SESSION_ID {
        return false;
    }
    if new_session {
        return true;
    }
    let backends = &state.backends;
    let (cart, orders) = tokio::join!(
        merge_cart(backends, session_id, account_id),
        backends.transfer_orders(session_id, account_id),
    );
    let cart_ok = match cart {
        Ok(lines) => {
            if lines > 0 {
                tracing::info!(account_id = %account_id, lines, "The guest cart joined the account's cart.");
            }
            true
        }
        Err(error) => {
            tracing::warn!(account_id = %account_id, error = %error, "Cannot merge the guest cart into the account's.");
            false
        }
    };
    let orders_ok = match orders {
        Ok(moved) => {
            if moved > 0 {
                tracing::info!(account_id = %account_id, orders = moved, "The guest's orders are the account's now.");
            }
            true
        }
        Err(error) => {
            tracing::warn!(account_id = %account_id, error = %error, "Cannot hand the guest's orders to the account.");
            false
        }
    };
    cart_ok && orders_ok
}

/// Adds every line of the guest cart to the account's, then empties the
/// guest cart; how many lines were added.
async fn merge_cart(
    backends: &Backends,
    session_id: &str,
    account_id: &str,
) -> Result<usize, BackendError> {
    let items = backends.cart(session_id).await?;
    if items.is_empty() {
        return Ok(0);
    }
    let mut added = 0;
    for item in &items {
        match backends
            .add_to_cart(account_id, &item.product_id, item.quantity)
            .await
        {
            Ok(()) => added += 1,
            // The account's line is full: keep what it has.
            Err(error) if error.code() == Some(Code::InvalidArgument) => {
                tracing::info!(product_id = %item.product_id, error = %error, "A guest cart line did not fit the account's cart.");
            }
            Err(error) => return Err(error),
        }
    }
    backends.empty_cart(session_id).await?;
    Ok(added)
}

/// How a refusal of the accounts service reads to the shopper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) kind: RefusalKind,
    /// Shown to the shopper (and the API's `detail`).
    pub(crate) message: String,
    /// Seconds to wait before trying again (429, 503).
    pub(crate) retry_after: Option<u64>,
}

/// Which refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefusalKind {
    /// The email or password is wrong (the same for an unknown email).
    BadCredentials,
    /// A new password breaks a rule.
    WeakPassword,
    /// The email has an account already.
    EmailTaken,
    /// Too many failed sign-ins for the email or from the address.
    Throttled,
    /// Too many password checks at once: retry in a moment.
    Overloaded,
    /// The token no longer works: sign in again.
    SignedOut,
    /// Something in the form is malformed (an email that is not one).
    Invalid,
    /// The accounts service (or one it needs) is not answering.
    Unavailable,
    /// Anything else: our fault.
    Internal,
}

impl Refusal {
    fn new(kind: RefusalKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            retry_after: None,
        }
    }
}

/// Reads a failed accounts call by its reason (never by its words, except
/// that the service's own INVALID_ARGUMENT messages, which name the field
/// and the rule and no secret, are passed on).
pub(crate) fn refusal(error: &BackendError) -> Refusal {
    let BackendError::Status { status, .. } = error else {
        return Refusal::new(RefusalKind::Internal, INTERNAL);
    };
    let reason = error_reason(status);
    let (reason, metadata) = match &reason {
        Some((reason, metadata)) => (reason.as_str(), Some(metadata)),
        None => ("", None),
    };
    let meta = |key: &str| metadata.and_then(|m| m.get(key)).map(String::as_str);
    match reason {
        reasons::INVALID_CREDENTIALS => Refusal::new(
            RefusalKind::BadCredentials,
            "The email or password is wrong. Check both and try again.",
        ),
        reasons::WEAK_PASSWORD => {
            let min = meta("min_length").unwrap_or("10");
            let max = meta("max_length").unwrap_or("128");
            let message = match meta("rule") {
                Some("too_short") => format!("Choose a longer password: at least {min} characters."),
                Some("too_long") => format!("Choose a shorter password: at most {max} characters."),
                Some("common") => {
                    "That password is one of the most common ones, so it is easy to guess. Choose another.".to_owned()
                }
                Some("same_as_email") => {
                    "Your password must not be your email address. Choose another.".to_owned()
                }
                _ => format!("Choose a stronger password ({min} to {max} characters, not a common one)."),
            };
            Refusal::new(RefusalKind::WeakPassword, message)
        }
        reasons::EMAIL_TAKEN => Refusal::new(
            RefusalKind::EmailTaken,
            "An account with this email already exists. Sign in instead, or use another email.",
        ),
        reasons::SIGN_IN_THROTTLED => {
            let seconds = meta("retry_after_seconds")
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(60)
                .max(1);
            let wait = if seconds < 90 {
                "a minute".to_owned()
            } else {
                format!("{} minutes", seconds.div_ceil(60))
            };
            Refusal {
                retry_after: Some(seconds),
                ..Refusal::new(
                    RefusalKind::Throttled,
                    format!(
                        "Too many failed sign-in attempts for this account or from your network. \
                         Please wait {wait} and try again."
                    ),
                )
            }
        }
        reasons::OVERLOADED => Refusal {
            retry_after: Some(2),
            ..Refusal::new(
                RefusalKind::Overloaded,
                "We're signing in a lot of shoppers right now. Please try again in a moment.",
            )
        },
        reasons::INVALID_TOKEN => Refusal::new(
            RefusalKind::SignedOut,
            "You have been signed out. Please sign in again.",
        ),
        _ => match status.code() {
            Code::InvalidArgument => Refusal::new(RefusalKind::Invalid, sentence(status.message())),
            Code::Unauthenticated => Refusal::new(
                RefusalKind::SignedOut,
                "You have been signed out. Please sign in again.",
            ),
            _ if error.is_unavailable() => Refusal {
                retry_after: Some(2),
                ..Refusal::new(
                    RefusalKind::Unavailable,
                    "Accounts are taking a short break. Please try again in a moment.",
                )
            },
            _ => Refusal::new(RefusalKind::Internal, INTERNAL),
        },
    }
}

const INTERNAL: &str = "Something went wrong on our side. Please try again.";

/// A service message as a sentence: capitalised, with a full stop, at most
/// 200 characters.
fn sentence(message: &str) -> String {
    let message: String = message.trim().chars().take(200).collect();
    let mut chars = message.chars();
    let Some(first) = chars.next() else {
        return "Please check what you entered.".to_owned();
    };
    let mut out: String = first.to_uppercase().chain(chars).collect();
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use boutique_platform::RpcError;
    use tonic::Status;

    use super::*;
    use crate::backends::Backend;

    fn refused(status: Status) -> Refusal {
        refusal(&BackendError::Status {
            backend: Backend::Accounts,
            status,
        })
    }

    #[test]
    fn every_reason_has_its_message() {
        let with = |error: RpcError| refused(Status::from(error));
        let bad = with(
            RpcError::Unauthenticated("the email or password is wrong".to_owned())
                .with_reason(reasons::INVALID_CREDENTIALS, []),
        );
        assert_eq!(bad.kind, RefusalKind::BadCredentials);
        let weak = with(RpcError::invalid("x").with_reason(
            reasons::WEAK_PASSWORD,
            [
                ("rule", "too_short".to_owned()),
                ("min_length", "10".to_owned()),
                ("max_length", "128".to_owned()),
            ],
        ));
        assert_eq!(weak.kind, RefusalKind::WeakPassword);
        assert!(weak.message.contains("at least 10 characters"), "{weak:?}");
        let taken =
            with(RpcError::AlreadyExists("x".to_owned()).with_reason(reasons::EMAIL_TAKEN, []));
        assert_eq!(taken.kind, RefusalKind::EmailTaken);
        let throttled = with(RpcError::ResourceExhausted("x".to_owned()).with_reason(
            reasons::SIGN_IN_THROTTLED,
            [("retry_after_seconds", "600".to_owned())],
        ));
        assert_eq!(
            (throttled.kind, throttled.retry_after),
            (RefusalKind::Throttled, Some(600))
        );
        assert!(throttled.message.contains("10 minutes"), "{throttled:?}");
        let busy =
            with(RpcError::ResourceExhausted("x".to_owned()).with_reason(reasons::OVERLOADED, []));
        assert_eq!(busy.kind, RefusalKind::Overloaded);
        let token =
            with(RpcError::Unauthenticated("x".to_owned()).with_reason(reasons::INVALID_TOKEN, []));
        assert_eq!(token.kind, RefusalKind::SignedOut);
        let invalid = refused(Status::invalid_argument("email is not an email address"));
        assert_eq!(
            (invalid.kind, invalid.message.as_str()),
            (RefusalKind::Invalid, "Email is not an email address.")
        );
        assert_eq!(
            refused(Status::unavailable("down")).kind,
            RefusalKind::Unavailable
        );
        let internal = refused(Status::internal("secret"));
        assert_eq!(internal.kind, RefusalKind::Internal);
        assert!(!internal.message.contains("secret"));
    }

    #[test]
    fn secrets_do_not_print() {
        let signed_in = SignedIn {
            id: "acct-1".to_owned(),
            email: "ada@example.com".to_owned(),
            display_name: "Ada".to_owned(),
            created_at_ms: 0,
            token: Token::new("eyJsecret".to_owned()),
            expires_at_ms: 0,
        };
        let text = format!("{signed_in:?}");
        assert!(text.contains("acct-1"), "{text}");
        assert!(!text.contains("secret") && !text.contains("ada@"), "{text}");
    }
}
