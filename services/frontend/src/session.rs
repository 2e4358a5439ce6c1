//! Server-minted, signed shopper sessions.
//!
//! A session id is a UUIDv4 minted here (or upstream's shared constant with
//! `ENABLE_SINGLE_SHARED_SESSION`). It keys the shopper's cart, and later
//! their orders and account, so it must not be guessable or forgeable: the
//! `shop_session-id` cookie carries `<id>.<signature>`, where the signature is
//! an HMAC-SHA256 of the id under the frontend's [`SessionKey`] (URL-safe
//! base64). Only the frontend holds the key, so only the frontend can mint a
//! session. A cookie whose signature does not verify (forged, tampered with,
//! signed by a key we no longer hold, or upstream's bare UUID) is never
//! trusted: the request gets a freshly minted session instead.
//!
//! Keys rotate without logging everyone out: a previous key still verifies,
//! and a session it verifies is signed again with the current key, so the
//! browser holds a current cookie from its next response on.
//!
//! Kubernetes probes send `x-readiness-probe` / `x-liveness-probe` as their
//! session (upstream's convention) so that no session is minted for them;
//! those markers are used as they are.
//!
//! Session ids are never logged: a [`SessionId`] prints (`Debug` and
//! [`SessionId::tag`]) only the first 12 hex digits of its SHA-256, enough to
//! follow one shopper through the logs and useless for taking over the cart.

use std::fmt;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ring::{digest, hkdf, hmac};
use uuid::Uuid;

use crate::config::SHARED_SESSION_ID;

/// Session ids that probes send so that no session is minted for them.
const PROBE_SESSIONS: [&str; 2] = ["x-readiness-probe", "x-liveness-probe"];

/// The HKDF `info` that makes the signing key from a secret; another use of
/// the same secret gets another label, hence another key.
const SIGNING_KEY_INFO: &[u8] = b"boutique frontend session-id signature v1";

/// How many hex digits of the id's SHA-256 a [`SessionId::tag`] shows.
const TAG_HEX_DIGITS: usize = 12;

/// The key that signs session cookies.
///
/// Made from a secret of at least [`SessionKey::MIN_SECRET_BYTES`] bytes
/// (`SESSION_SECRET`), or drawn at random per process when none is configured
/// (then sessions do not survive a restart and are not shared by replicas).
/// The binary may equally hand one in (e.g. from a key kept in a data
/// directory) through `Config::session_key`.
#[derive(Clone)]
pub struct SessionKey {
    key: hmac::Key,
}

impl SessionKey {
    /// The shortest secret accepted: 256 bits, the HMAC-SHA256 key size.
    pub const MIN_SECRET_BYTES: usize = 32;

    /// The key for `secret`, which must hold at least
    /// [`MIN_SECRET_BYTES`](Self::MIN_SECRET_BYTES) bytes. The signing key is
    /// derived from it (HKDF-SHA256), never the secret itself.
    pub fn from_secret(secret: &[u8]) -> Result<Self, String> {
        if secret.len() < Self::MIN_SECRET_BYTES {
            return Err(format!(
                "must be at least {} bytes, e.g. the output of `openssl rand -base64 48`",
                Self::MIN_SECRET_BYTES
            ));
        }
        let key = hkdf::Salt::new(hkdf::HKDF_SHA256, &[])
            .extract(secret)
            .expand(&[SIGNING_KEY_INFO], hmac::HMAC_SHA256)
            .map(hmac::Key::from)
            .map_err(|_| "cannot derive a signing key from it".to_owned())?;
        Ok(Self { key })
    }

    /// A random key (from the operating system's generator through `rand`),
    /// good for this process only.
    pub fn generate() -> Self {
        let secret: [u8; Self::MIN_SECRET_BYTES] = rand::random();
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &secret),
        }
    }

    fn sign(&self, id: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.key, id.as_bytes()))
    }

    fn verifies(&self, id: &str, signature: &[u8]) -> bool {
        // Constant-time comparison, inside ring.
        hmac::verify(&self.key, id.as_bytes(), signature).is_ok()
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(..)")
    }
}

/// A shopper's session id. It prints only its [`tag`](Self::tag), so it
/// cannot reach a log line or a span by accident.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SessionId {
    id: String,
    /// Made once with the id: the log line and the footer both show it.
    tag: String,
}

impl SessionId {
    fn new(id: String) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let hash = digest::digest(&digest::SHA256, id.as_bytes());
        let mut tag = String::with_capacity(TAG_HEX_DIGITS);
        for byte in &hash.as_ref()[..TAG_HEX_DIGITS / 2] {
            tag.push(char::from(HEX[usize::from(byte >> 4)]));
            tag.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        Self { id, tag }
    }

    /// The id itself, for the backends (the cart's `user_id`) only.
    pub(crate) fn as_str(&self) -> &str {
        &self.id
    }

    /// A short, non-reversible stand-in for logs and pages: the first 12 hex
    /// digits of the id's SHA-256.
    pub(crate) fn tag(&self) -> &str {
        &self.tag
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({})", self.tag())
    }
}

/// How a request's session came about, for the request's log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A cookie signed with the current key.
    Kept,
    /// A cookie signed with the previous key: signed again with the current one.
    Resigned,
    /// No cookie: a new session.
    Minted,
    /// A cookie that did not verify: a new session in its place.
    Replaced,
    /// A probe's marker: no session minted.
    Probe,
}

impl Origin {
    /// The name logged.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Kept => "kept",
            Self::Resigned => "resigned",
            Self::Minted => "minted",
            Self::Replaced => "replaced",
            Self::Probe => "probe",
        }
    }
}

/// A request's session and the cookie value to send back, if any.
#[derive(Debug)]
pub(crate) struct Resolved {
    pub(crate) id: SessionId,
    pub(crate) origin: Origin,
    /// The signed `shop_session-id` value to set; `None` keeps the browser's.
    pub(crate) cookie: Option<String>,
}

/// Mints, signs and verifies sessions.
#[derive(Debug, Clone)]
pub(crate) struct Sessions {
    current: SessionKey,
    previous: Option<SessionKey>,
    /// Every new session gets [`SHARED_SESSION_ID`].
    shared: bool,
}

impl Sessions {
    pub(crate) fn new(current: SessionKey, previous: Option<SessionKey>, shared: bool) -> Self {
        Self {
            current,
            previous,
            shared,
        }
    }

    /// The session for a request carrying `cookie` (the `shop_session-id`
    /// value, if any); see the module documentation.
    pub(crate) fn resolve(&self, cookie: Option<&str>) -> Resolved {
        let Some(value) = cookie else {
            return self.mint(Origin::Minted);
        };
        if PROBE_SESSIONS.contains(&value) {
            return Resolved {
                id: SessionId::new(value.to_owned()),
                origin: Origin::Probe,
                cookie: None,
            };
        }
        let Some((id, signature)) = split(value) else {
            return self.mint(Origin::Replaced);
        };
        if self.current.verifies(id, &signature) {
            return Resolved {
                id: SessionId::new(id.to_owned()),
                origin: Origin::Kept,
                cookie: None,
            };
        }
        if self
            .previous
            .as_ref()
            .is_some_and(|previous| previous.verifies(id, &signature))
        {
            return Resolved {
                id: SessionId::new(id.to_owned()),
                origin: Origin::Resigned,
                cookie: Some(self.cookie_value(id)),
            };
        }
        self.mint(Origin::Replaced)
    }

    /// A new session to replace the request's (at sign-in and sign-out, so
    /// the id the shopper used before names nothing afterwards): its id and
    /// its signed cookie value. With `ENABLE_SINGLE_SHARED_SESSION` it is
    /// the shared id again.
    pub(crate) fn fresh(&self) -> (SessionId, String) {
        let resolved = self.mint(Origin::Minted);
        let cookie = resolved
            .cookie
            .unwrap_or_else(|| self.cookie_value(resolved.id.as_str()));
        (resolved.id, cookie)
    }

    /// True when every session is the shared one: nothing a session holds
    /// is one shopper's.
    pub(crate) fn shared(&self) -> bool {
        self.shared
    }

    fn mint(&self, origin: Origin) -> Resolved {
        let id = if self.shared {
            SHARED_SESSION_ID.to_owned()
        } else {
            Uuid::new_v4().to_string()
        };
        Resolved {
            cookie: Some(self.cookie_value(&id)),
            id: SessionId::new(id),
            origin,
        }
    }

    /// `<id>.<signature>` under the current key.
    fn cookie_value(&self, id: &str) -> String {
        format!("{id}.{}", self.current.sign(id))
    }
}

/// The id and the decoded signature of a cookie value shaped like ours: a
/// UUID in its canonical lowercase form, a dot, and URL-safe base64.
fn split(value: &str) -> Option<(&str, Vec<u8>)> {
    let (id, signature) = value.split_once('.')?;
    let canonical = Uuid::try_parse(id)
        .ok()
        .is_some_and(|uuid| uuid.hyphenated().to_string() == id);
    if !canonical {
        return None;
    }
    let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
    Some((id, signature))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SessionKey {
        SessionKey::from_secret(&[byte; SessionKey::MIN_SECRET_BYTES]).unwrap()
    }

    fn sessions(previous: Option<SessionKey>, shared: bool) -> Sessions {
        Sessions::new(key(1), previous, shared)
    }

    #[test]
    fn mints_signed_uuids() {
        let resolved = sessions(None, false).resolve(None);
        assert_eq!(resolved.origin, Origin::Minted);
        let id = resolved.id.as_str();
        assert_eq!(Uuid::parse_str(id).unwrap().get_version_num(), 4);
        let cookie = resolved.cookie.unwrap();
        let (signed_id, signature) = cookie.split_once('.').unwrap();
        assert_eq!(signed_id, id);
        assert_eq!(signature.len(), 43, "{signature}");
    }

    #[test]
    fn keeps_what_it_signed_and_replaces_everything_else() {
        let sessions = sessions(None, false);
        let minted = sessions.resolve(None);
        let cookie = minted.cookie.unwrap();
        let kept = sessions.resolve(Some(&cookie));
        assert_eq!((kept.origin, kept.cookie), (Origin::Kept, None));
        assert_eq!(kept.id, minted.id);

        let (id, signature) = cookie.split_once('.').unwrap();
        let other_id = Uuid::new_v4().to_string();
        let mut flipped = signature.as_bytes().to_vec();
        flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        let forged = [
            id.to_owned(),                                // upstream's bare UUID
            format!("{other_id}.{signature}"),            // someone else's id
            format!("{id}.{flipped}"),                    // a tampered signature
            format!("{id}."),                             // no signature
            format!("{}.{signature}", id.to_uppercase()), // not the signed text
            format!("{id}.{}", key(2).sign(id)),          // another key
            format!("{id}.{signature}.{signature}"),      // trailing junk
            "x-readiness-probe-ish".to_owned(),
            String::new(),
        ];
        for value in forged {
            let resolved = sessions.resolve(Some(&value));
            assert_eq!(resolved.origin, Origin::Replaced, "{value}");
            assert_ne!(resolved.id.as_str(), id, "{value}");
            assert!(resolved.cookie.is_some(), "{value}");
        }
    }

    #[test]
    fn a_previous_key_still_verifies_and_is_replaced_by_the_current_one() {
        let old = Sessions::new(key(2), None, false);
        let cookie = old.resolve(None).cookie.unwrap();
        let rotated = sessions(Some(key(2)), false);
        let resolved = rotated.resolve(Some(&cookie));
        assert_eq!(resolved.origin, Origin::Resigned);
        assert_eq!(resolved.id.as_str(), cookie.split_once('.').unwrap().0);
        let resigned = resolved.cookie.unwrap();
        assert_ne!(resigned, cookie);
        assert_eq!(rotated.resolve(Some(&resigned)).origin, Origin::Kept);
        // Without the previous key the old cookie is just a forgery.
        assert_eq!(
            sessions(None, false).resolve(Some(&cookie)).origin,
            Origin::Replaced
        );
    }

    #[test]
    fn shared_sessions_are_signed_and_probes_mint_nothing() {
        let shared = sessions(None, true);
        let minted = shared.resolve(None);
        assert_eq!(minted.id.as_str(), SHARED_SESSION_ID);
        let cookie = minted.cookie.unwrap();
        assert!(cookie.starts_with(&format!("{SHARED_SESSION_ID}.")));
        assert_eq!(shared.resolve(Some(&cookie)).origin, Origin::Kept);
        // The bare constant is no more trusted than any other unsigned id.
        assert_eq!(
            shared.resolve(Some(SHARED_SESSION_ID)).origin,
            Origin::Replaced
        );
        for probe in PROBE_SESSIONS {
            let resolved = shared.resolve(Some(probe));
            assert_eq!((resolved.origin, resolved.cookie), (Origin::Probe, None));
            assert_eq!(resolved.id.as_str(), probe);
        }
    }

    #[test]
    fn fresh_sessions_are_new_and_signed() {
        let sessions = sessions(None, false);
        let (first, cookie) = sessions.fresh();
        let (second, _) = sessions.fresh();
        assert_ne!(first, second);
        let kept = sessions.resolve(Some(&cookie));
        assert_eq!((kept.origin, kept.id), (Origin::Kept, first));
    }

    #[test]
    fn secrets_must_be_long_enough() {
        assert!(SessionKey::from_secret(&[7; 31]).is_err());
        assert!(SessionKey::from_secret(&[7; 32]).is_ok());
        // Different secrets, different signatures; the same secret, the same.
        assert_eq!(key(1).sign("a"), key(1).sign("a"));
        assert_ne!(key(1).sign("a"), key(3).sign("a"));
        assert_ne!(SessionKey::generate().sign("a"), key(1).sign("a"));
    }

    #[test]
    fn ids_print_only_their_tag() {
        let id = SessionId::new("0b6f5a8e-4f38-4c43-9d3f-2f0f2f7b9a11".to_owned());
        let tag = id.tag();
        assert_eq!(tag.len(), TAG_HEX_DIGITS);
        assert!(tag.bytes().all(|b| b.is_ascii_hexdigit()));
        let debug = format!("{id:?}");
        assert!(!debug.contains(id.as_str()) && debug.contains(tag));
        assert_eq!(format!("{:?}", key(1)), "SessionKey(..)");
    }
}
