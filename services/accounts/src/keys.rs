//! The keys that sign and verify tokens, and where they come from.
//!
//! Rotation: the configuration lists several keys, each with an id (`kid`,
//! written into every token's header). The first one signs; all of them
//! verify. To rotate, put a new key first and keep the old one after it for
//! a token lifetime; then drop it, and its tokens stop working.
//!
//! Text format (`ACCOUNTS_TOKEN_KEYS`, or the file `ACCOUNTS_TOKEN_KEYS_FILE`
//! names): `kid:base64key` entries separated by commas or newlines; in a file,
//! lines starting with `#` are comments. Each key is at least 32 bytes
//! (HS256 wants a key as long as its hash). Key bytes never appear in logs,
//! `Debug` output or error messages.

use std::{collections::HashSet, fmt, path::Path};

use base64::{Engine, engine::general_purpose};

/// The shortest key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

/// The longest key id accepted.
const MAX_KID_LEN: usize = 64;

/// The file kept in the data directory when no key is configured.
pub const DEFAULT_KEY_FILE: &str = "accounts-token.keys";

/// One key: its id and its secret bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenKey {
    kid: String,
    secret: Vec<u8>,
}

impl TokenKey {
    /// A key from its id and bytes (checked like a configured one).
    pub fn new(kid: &str, secret: &[u8]) -> Result<Self, String> {
        check_kid(kid)?;
        if secret.len() < MIN_KEY_BYTES {
            return Err(format!(
                "key {kid:?} is {} bytes; at least {MIN_KEY_BYTES} are needed",
                secret.len()
            ));
        }
        Ok(Self {
            kid: kid.to_owned(),
            secret: secret.to_vec(),
        })
    }

    /// A fresh random key.
    pub fn random(kid: &str) -> Self {
        let secret: [u8; 32] = rand::random();
        Self {
            kid: kid.to_owned(),
            secret: secret.to_vec(),
        }
    }

    /// Its id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Its bytes.
    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    /// The `kid:base64key` text of this key.
    pub fn to_text(&self) -> String {
        format!(
            "{}:{}",
            self.kid,
            general_purpose::STANDARD.encode(&self.secret)
        )
    }
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// The keys in force: the first signs, all verify. Never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySet {
    keys: Vec<TokenKey>,
}

impl KeySet {
    /// A set of `keys`, the first signing; `None` when empty.
    pub fn new(keys: Vec<TokenKey>) -> Option<Self> {
        (!keys.is_empty()).then_some(Self { keys })
    }

    /// Parses the `kid:base64key,…` text (see the module docs).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut keys = Vec::new();
        let mut seen = HashSet::new();
        for entry in text
            .split([',', '\n'])
            .map(str::trim)
            .filter(|e| !e.is_empty() && !e.starts_with('#'))
        {
            let (kid, encoded) = entry
                .split_once(':')
                .ok_or("each key is written kid:base64key")?;
            let kid = kid.trim();
            let secret = decode_base64(encoded.trim())
                .ok_or_else(|| format!("key {kid:?} is not base64"))?;
            let key = TokenKey::new(kid, &secret)?;
            if !seen.insert(key.kid.clone()) {
                return Err(format!("key id {kid:?} is listed twice"));
            }
            keys.push(key);
        }
        Self::new(keys).ok_or_else(|| "no key is listed".to_owned())
    }

    /// The key that signs new tokens.
    pub fn signing(&self) -> &TokenKey {
        &self.keys[0]
    }

    /// The key with id `kid`, if it is still in force.
    pub fn get(&self, kid: &str) -> Option<&TokenKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// The ids of the keys, signing key first.
    pub fn kids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.kid.as_str()).collect()
    }
}

/// The key kept in `dir` (made there on first use, readable by the owner
/// only; see `boutique_store::secret_file`).
pub fn from_data_dir(dir: &Path) -> Result<KeySet, String> {
    let path = dir.join(DEFAULT_KEY_FILE);
    let text = boutique_store::secret_file::read_or_create(&path, || {
        let suffix: u32 = rand::random();
        TokenKey::random(&format!("local-{suffix:08x}")).to_text() + "\n"
    })
    .map_err(|e| format!("cannot keep the token key in {}: {e}", path.display()))?;
    KeySet::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn check_kid(kid: &str) -> Result<(), String> {
    let fine = !kid.is_empty()
        && kid.len() <= MAX_KID_LEN
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if fine {
        Ok(())
    } else {
        Err(format!(
            "key id {kid:?} must be 1 to {MAX_KID_LEN} of A-Z a-z 0-9 . _ -"
        ))
    }
}

/// Standard or URL-safe base64, padded or not.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    [
        &general_purpose::STANDARD,
        &general_purpose::STANDARD_NO_PAD,
        &general_purpose::URL_SAFE,
        &general_purpose::URL_SAFE_NO_PAD,
    ]
    .iter()
    .find_map(|engine| engine.decode(text).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(bytes: &[u8]) -> String {
        general_purpose::STANDARD.encode(bytes)
    }

    #[test]
    fn the_first_key_signs_and_all_verify() {
        let text = format!("new:{},old:{}", b64(&[1; 32]), b64(&[2; 40]));
        let keys = KeySet::parse(&text).unwrap();
        assert_eq!(keys.signing().kid(), "new");
        assert_eq!(keys.get("old").unwrap().secret(), &[2; 40]);
        assert!(keys.get("gone").is_none());
        assert_eq!(keys.kids(), ["new", "old"]);
    }

    #[test]
    fn files_may_use_lines_and_comments() {
        let text = format!(
            "# rotated 2026-11\nnew:{}\n\nold:{}\n",
            b64(&[1; 32]),
            b64(&[2; 32])
        );
        assert_eq!(KeySet::parse(&text).unwrap().kids(), ["new", "old"]);
    }

    #[test]
    fn bad_keys_are_refused_without_showing_them() {
        let short = b64(&[7; 31]);
        let cases = [
            (String::new(), "no key"),
            (format!("k:{short}"), "at least 32"),
            (short.clone(), "kid:base64key"),
            ("k:not base64!".to_owned(), "not base64"),
            (format!("k:{0},k:{0}", b64(&[1; 32])), "twice"),
            (format!("bad kid:{}", b64(&[1; 32])), "key id"),
        ];
        for (text, expected) in cases {
            let error = KeySet::parse(&text).unwrap_err();
            assert!(error.contains(expected), "{text:?}: {error}");
            assert!(!error.contains(&short), "the key leaked: {error}");
        }
        let key = TokenKey::new("k", &[9; 32]).unwrap();
        assert!(!format!("{key:?}").contains('9'));
    }

    #[test]
    fn the_data_dir_key_is_made_once() {
        let dir = tempfile::tempdir().unwrap();
        let first = from_data_dir(dir.path()).unwrap();
        let again = from_data_dir(dir.path()).unwrap();
        assert_eq!(first, again);
        assert!(first.signing().kid().starts_with("local-"));
    }
}
