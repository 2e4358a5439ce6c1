//! Sign-in tokens: HS256 JWTs naming the account (`sub`), with their own id
//! (`jti`, for signing one out), issue and expiry times, our issuer, and in
//! the header the id of the key that signed them (`kid`, for rotation).
//!
//! This module checks what the token says about itself (signature, key,
//! issuer, expiry); whether it was signed out, or issued before its account
//! ended its sessions, needs the database and is checked by the handlers.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};

use crate::keys::KeySet;

/// The `iss` of our tokens.
pub const ISSUER: &str = "boutique.accounts";

/// Tokens longer than this are refused before any parsing.
const MAX_TOKEN_BYTES: usize = 4096;

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The account id.
    pub sub: String,
    /// The token's own id.
    pub jti: String,
    /// Issued at, in seconds since the epoch.
    pub iat: i64,
    /// Expires at, in seconds since the epoch.
    pub exp: i64,
    /// Always [`ISSUER`].
    pub iss: String,
}

/// A token just issued.
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    /// The encoded token.
    pub(crate) token: String,
    /// When it expires, in ms since the epoch.
    pub(crate) expires_at_ms: i64,
}

/// Why a token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TokenError {
    /// Not a JWT of ours: bad shape, signature, algorithm, issuer or claims.
    #[error("the token is not valid")]
    Invalid,
    /// Signed by a key that is not (or no longer) in force.
    #[error("the token is not valid")]
    UnknownKey,
    /// Past its expiry.
    #[error("the token has expired")]
    Expired,
}

/// Issues and checks tokens with one key set.
#[derive(Clone)]
pub(crate) struct Tokens {
    keys: KeySet,
    lifetime: Duration,
    validation: Validation,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("kids", &self.keys.kids())
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl Tokens {
    /// Tokens signed with `keys`' first key, valid for `lifetime`.
    pub(crate) fn new(keys: KeySet, lifetime: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // Replicas' clocks are kept close; a token is refused from the second
        // its `exp` names, not a minute later.
        validation.leeway = 0;
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        Self {
            keys,
            lifetime,
            validation,
        }
    }

    /// A token for `account_id`, issued at `iat_s` (seconds), with a fresh id.
    pub(crate) fn issue(
        &self,
        account_id: &str,
        iat_s: i64,
    ) -> Result<Issued, jsonwebtoken::errors::Error> {
        let lifetime = i64::try_from(self.lifetime.as_secs()).unwrap_or(i64::MAX);
        let claims = Claims {
            sub: account_id.to_owned(),
            jti: uuid::Uuid::new_v4().to_string(),
            iat: iat_s,
            exp: iat_s.saturating_add(lifetime),
            iss: ISSUER.to_owned(),
        };
        let key = self.keys.signing();
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(key.kid().to_owned());
        let token =
            jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(key.secret()))?;
        Ok(Issued {
            token,
            expires_at_ms: claims.exp.saturating_mul(1000),
        })
    }

    /// What `token` says, if we signed it with a key still in force and it
    /// has not expired.
    pub(crate) fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        if token.is_empty() || token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Invalid);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let key = self.keys.get(&kid).ok_or(TokenError::UnknownKey)?;
        let decoded = jsonwebtoken::decode::<Claims>(
            token,
            &DecodingKey::from_secret(key.secret()),
            &self.validation,
        )
        .map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => TokenError::Expired,
            _ => TokenError::Invalid,
        })?;
        Ok(decoded.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::TokenKey;

    fn tokens(keys: &[(&str, u8)]) -> Tokens {
        let keys = keys
            .iter()
            .map(|(kid, byte)| TokenKey::new(kid, &[*byte; 32]).unwrap())
            .collect();
        Tokens::new(KeySet::new(keys).unwrap(), Duration::from_secs(3600))
    }

    fn now_s() -> i64 {
        jsonwebtoken::get_current_timestamp() as i64
    }

    #[test]
    fn a_token_names_its_account_and_key() {
        let tokens = tokens(&[("a", 1)]);
        let issued = tokens.issue("acct-1", now_s()).unwrap();
        let claims = tokens.verify(&issued.token).unwrap();
        assert_eq!(claims.sub, "acct-1");
        assert_eq!(claims.exp * 1000, issued.expires_at_ms);
        let header = jsonwebtoken::decode_header(&issued.token).unwrap();
        assert_eq!(header.kid.as_deref(), Some("a"));
        // Each token has its own id.
        let other = tokens.issue("acct-1", now_s()).unwrap();
        assert_ne!(tokens.verify(&other.token).unwrap().jti, claims.jti);
    }

    #[test]
    fn rotation_keeps_listed_keys_and_drops_retired_ones() {
        let old = tokens(&[("old", 1)]).issue("acct-1", now_s()).unwrap();
        let rotated = tokens(&[("new", 2), ("old", 1)]);
        assert!(rotated.verify(&old.token).is_ok());
        let retired = tokens(&[("new", 2)]);
        assert_eq!(retired.verify(&old.token), Err(TokenError::UnknownKey));
        // The same kid with other bytes: the signature fails.
        let forged = tokens(&[("old", 3)]);
        assert_eq!(forged.verify(&old.token), Err(TokenError::Invalid));
    }

    #[test]
    fn expired_and_garbage_tokens_are_refused() {
        let tokens = tokens(&[("a", 1)]);
        let stale = tokens.issue("acct-1", now_s() - 7200).unwrap();
        assert_eq!(tokens.verify(&stale.token), Err(TokenError::Expired));
        for garbage in ["", "abc", "a.b.c", &"x".repeat(5000)] {
            assert_eq!(tokens.verify(garbage), Err(TokenError::Invalid));
        }
    }
}
