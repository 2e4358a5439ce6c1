//! Checks of what callers send: emails, display names, client addresses and
//! password sizes. Each refusal is INVALID_ARGUMENT naming the field.

use std::net::{IpAddr, SocketAddr};

use boutique_platform::RpcError;

use crate::password::MAX_CHARS;

/// The longest email accepted, in characters (RFC 5321's path limit).
const MAX_EMAIL_CHARS: usize = 254;
/// The longest display name accepted, in characters.
const MAX_NAME_CHARS: usize = 64;
/// The longest client address accepted, in bytes.
const MAX_ADDRESS_LEN: usize = 128;

/// An email as typed (trimmed) and its normalised key (lowercase).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Email {
    pub(crate) display: String,
    pub(crate) key: String,
}

/// Checks the shape of an email: something before and after one `@`, no
/// spaces or control characters. Whether it receives mail is not ours to know.
pub(crate) fn email(raw: &str) -> Result<Email, RpcError> {
    let display = raw.trim();
    if display.is_empty() {
        return Err(RpcError::invalid("email is required"));
    }
    if display.chars().count() > MAX_EMAIL_CHARS {
        return Err(RpcError::invalid(format!(
            "email must have at most {MAX_EMAIL_CHARS} characters"
        )));
    }
    let well_formed = display
        .rsplit_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
        && !display.chars().any(|c| c.is_whitespace() || c.is_control());
    if !well_formed {
        return Err(RpcError::invalid("email is not an email address"));
    }
    Ok(Email {
        display: display.to_owned(),
        key: display.to_lowercase(),
    })
}

/// The display name (trimmed), or the part of the email before `@` when none
/// is given.
pub(crate) fn display_name(raw: &str, email: &Email) -> Result<String, RpcError> {
    let name = raw.trim();
    let name = if name.is_empty() {
        email
            .display
            .rsplit_once('@')
            .map_or("", |(local, _)| local)
    } else {
        name
    };
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(RpcError::invalid(format!(
            "display_name must have at most {MAX_NAME_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(RpcError::invalid(
            "display_name must not contain control characters",
        ));
    }
    Ok(name.chars().take(MAX_NAME_CHARS).collect())
}

/// The client address to count failures against: the IP of an `IP` or
/// `IP:PORT` (the port changes with every connection), other text as given;
/// `None` when the caller sent none.
pub(crate) fn client_address(raw: &str) -> Result<Option<String>, RpcError> {
    let text = raw.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if text.len() > MAX_ADDRESS_LEN {
        return Err(RpcError::invalid(format!(
            "client_address must have at most {MAX_ADDRESS_LEN} bytes"
        )));
    }
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(Some(addr.ip().to_string()));
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(Some(ip.to_string()));
    }
    Ok(Some(text.to_owned()))
}

/// A password to check against a stored hash: present, and no longer than any
/// password we accept (so nobody makes us hash megabytes).
pub(crate) fn password_to_check(field: &str, password: &str) -> Result<(), RpcError> {
    if password.is_empty() {
        return Err(RpcError::invalid(format!("{field} is required")));
    }
    if password.chars().count() > MAX_CHARS {
        return Err(RpcError::invalid(format!(
            "{field} must have at most {MAX_CHARS} characters"
        )));
    }
    Ok(())
}

/// A token sent by the caller: present.
pub(crate) fn token(token: &str) -> Result<&str, RpcError> {
    let token = token.trim();
    if token.is_empty() {
        return Err(RpcError::invalid("token is required"));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_keyed_in_lowercase() {
        let e = email("  Ada@Example.COM ").unwrap();
        assert_eq!(e.display, "Ada@Example.COM");
        assert_eq!(e.key, "ada@example.com");
        for bad in [
            "",
            "ada",
            "@example.com",
            "ada@",
            "a da@example.com",
            "a\u{0}@x",
        ] {
            assert!(email(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn display_names_default_to_the_local_part() {
        let e = email("ada@example.com").unwrap();
        assert_eq!(display_name("  ", &e).unwrap(), "ada");
        assert_eq!(display_name(" Ada L. ", &e).unwrap(), "Ada L.");
        assert!(display_name("a\nb", &e).is_err());
        assert!(display_name(&"n".repeat(65), &e).is_err());
    }

    #[test]
    fn addresses_drop_the_port() {
        assert_eq!(
            client_address("203.0.113.9:5555").unwrap().unwrap(),
            "203.0.113.9"
        );
        assert_eq!(
            client_address("[2001:db8::1]:80").unwrap().unwrap(),
            "2001:db8::1"
        );
        assert_eq!(client_address(" ").unwrap(), None);
        assert!(client_address(&"x".repeat(200)).is_err());
    }
}
