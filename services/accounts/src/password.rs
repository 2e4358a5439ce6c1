//! The password rules, checked before anything is hashed.
//!
//! NIST SP 800-63B's advice, as OWASP repeats it: a minimum length, a
//! generous maximum, no composition rules, and a check against passwords known
//! to be common. Length counts characters, not bytes, so a password in any
//! script is measured the same way. Each refusal says which rule it broke,
//! in the message for people and in the `rule` of the reason for programs.

use std::{collections::HashSet, sync::LazyLock};

use boutique_platform::RpcError;
use boutique_proto::reasons;

/// The fewest characters a password may have.
pub const MIN_CHARS: usize = 10;
/// The most characters a password may have (Argon2 takes any length, but a
/// bound keeps one request's work bounded).
pub const MAX_CHARS: usize = 128;

/// The commonest passwords long enough to pass the length rule (see the file's
/// header for where they come from).
static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../data/common-passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
});

/// Which rule a password broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Weakness {
    /// Fewer than [`MIN_CHARS`] characters.
    TooShort,
    /// More than [`MAX_CHARS`] characters.
    TooLong,
    /// On the list of common passwords (in any case).
    Common,
    /// The account's email itself (in any case).
    SameAsEmail,
}

impl Weakness {
    /// The `rule` metadata of the `WEAK_PASSWORD` reason.
    pub(crate) fn rule(self) -> &'static str {
        match self {
            Self::TooShort => "too_short",
            Self::TooLong => "too_long",
            Self::Common => "common",
            Self::SameAsEmail => "same_as_email",
        }
    }

    fn message(self) -> String {
        match self {
            Self::TooShort => format!("the password must have at least {MIN_CHARS} characters"),
            Self::TooLong => format!("the password must have at most {MAX_CHARS} characters"),
            Self::Common => {
                "the password is one of the most common passwords; choose another".to_owned()
            }
            Self::SameAsEmail => "the password must not be the email address".to_owned(),
        }
    }

    /// The status for the caller: INVALID_ARGUMENT with reason `WEAK_PASSWORD`.
    pub(crate) fn into_error(self) -> RpcError {
        RpcError::invalid(self.message()).with_reason(
            reasons::WEAK_PASSWORD,
            [
                ("rule", self.rule().to_owned()),
                ("min_length", MIN_CHARS.to_string()),
                ("max_length", MAX_CHARS.to_string()),
            ],
        )
    }
}

/// Checks a new password for the account of `email`.
pub(crate) fn check(password: &str, email: &str) -> Result<(), Weakness> {
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Err(Weakness::TooShort);
    }
    if chars > MAX_CHARS {
        return Err(Weakness::TooLong);
    }
    let lower = password.to_lowercase();
    if COMMON.contains(lower.as_str()) {
        return Err(Weakness::Common);
    }
    if lower == email.trim().to_lowercase() {
        return Err(Weakness::SameAsEmail);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_counts_characters_not_bytes() {
        // Nine characters in 27 bytes: too short.
        assert_eq!(check("ééééééééé", "a@b.c"), Err(Weakness::TooShort));
        assert_eq!(check("éééééééééé", "a@b.c"), Ok(()));
        assert_eq!(
            check(&"x".repeat(MAX_CHARS + 1), "a@b.c"),
            Err(Weakness::TooLong)
        );
        assert_eq!(check(&"xy".repeat(MAX_CHARS / 2), "a@b.c"), Ok(()));
    }

    #[test]
    fn common_passwords_are_refused_in_any_case() {
        assert!(COMMON.len() > 1_000, "{}", COMMON.len());
        for common in ["1234567890", "QwertyUiop", "BASKETBALL"] {
            assert_eq!(check(common, "a@b.c"), Err(Weakness::Common), "{common}");
        }
        assert!(
            COMMON
                .iter()
                .all(|p| p.chars().count() >= MIN_CHARS && *p == p.to_lowercase())
        );
    }

    #[test]
    fn the_email_is_not_a_password() {
        assert_eq!(
            check("Shopper@Example.com", "shopper@example.com"),
            Err(Weakness::SameAsEmail)
        );
    }
}
