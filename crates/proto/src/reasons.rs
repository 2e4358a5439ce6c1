//! The reasons our services mark outcomes with (`google.rpc.ErrorInfo`, see
//! `boutique_platform::error`), so a caller recognises them without reading
//! the message. Part of the wire contract: never rename one.

/// PlaceOrder: the charge got no clear answer, so the card may have been
/// charged; the order is recorded for follow-up and must not be paid again.
/// Metadata: `order_id`.
pub const PAYMENT_UNCERTAIN: &str = "PAYMENT_UNCERTAIN";

/// PlaceOrder: the card was charged but the order could not be shipped; it is
/// recorded for follow-up and must not be paid again. Metadata: `order_id`.
pub const CHARGED_NOT_SHIPPED: &str = "CHARGED_NOT_SHIPPED";

/// PlaceOrder (and the orders service's BeginOrder): another order for the
/// same cart is being placed right now, so this one was not started (nothing
/// was charged). Metadata: `order_id`, the order holding the cart (may be
/// empty when it finished in between).
pub const ORDER_IN_PROGRESS: &str = "ORDER_IN_PROGRESS";

/// Charge: the idempotency key was settled as never charged (its order was
/// closed by a reconciler), so no charge may be made under it. Metadata: none.
pub const CHARGE_VOIDED: &str = "CHARGE_VOIDED";

/// PlaceOrder: the `idempotency-key` was already used for a different
/// request by the same shopper. Metadata: none.
pub const IDEMPOTENCY_KEY_REUSED: &str = "IDEMPOTENCY_KEY_REUSED";

/// SignUp, ChangePassword (accounts): the password breaks a rule. Metadata:
/// `rule` (`too_short`, `too_long`, `common`, `same_as_email`), `min_length`,
/// `max_length`.
pub const WEAK_PASSWORD: &str = "WEAK_PASSWORD";

/// SignUp (accounts): the email, in any case, already has an account.
/// Metadata: none.
pub const EMAIL_TAKEN: &str = "EMAIL_TAKEN";

/// SignIn, ChangePassword, DeleteAccount (accounts): the email or the password
/// is wrong; an unknown email gets exactly the same answer. Metadata: none.
pub const INVALID_CREDENTIALS: &str = "INVALID_CREDENTIALS";

/// SignIn and the other password checks (accounts): too many failures for
/// the email or from the client address. Metadata: `retry_after_seconds`.
pub const SIGN_IN_THROTTLED: &str = "SIGN_IN_THROTTLED";

/// Any call with a token (accounts): it is malformed, tampered with, expired,
/// signed out, signed by a retired key, or its account is gone. Metadata: none.
pub const INVALID_TOKEN: &str = "INVALID_TOKEN";

/// Calls that check a password (accounts): too many checks are queued; retry
/// shortly. Metadata: none.
pub const OVERLOADED: &str = "OVERLOADED";

/// The ratings service's PutRating and DeleteRating: the account wrote too
/// many ratings in a short time; nothing was written. Retry after
/// `retry_after_ms`. Metadata: `retry_after_ms`.
pub const RATING_RATE_LIMITED: &str = "RATING_RATE_LIMITED";
