//! Passwords out of database URLs, before a URL is logged or put in an error.
//!
//! A URL may carry a password in its user info (`postgres://user:secret@host`)
//! or as a query parameter (`?password=secret`, which libpq and sqlx accept).
//! [`redact_url`] replaces both with `***`; [`scrub`] removes a URL's password
//! (as written and percent-decoded) from any other text, such as a driver's
//! error message, which is not ours to promise never quotes its input.

/// `url` with every password replaced by `***`. Text that is not a URL with an
/// authority (`sqlite:shop.db`) comes back unchanged.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let (head, rest) = url.split_at(scheme_end + 3);
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    format!("{head}{authority}{}", redact_query(tail))
}

/// The passwords in `url`, as written and percent-decoded.
pub fn url_passwords(url: &str) -> Vec<String> {
    let mut found = Vec::new();
    if let Some(scheme_end) = url.find("://") {
        let rest = &url[scheme_end + 3..];
        let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
        if let Some((userinfo, _)) = authority.rsplit_once('@')
            && let Some((_, password)) = userinfo.split_once(':')
        {
            found.push(password.to_owned());
        }
    }
    if let Some((_, query)) = url.split_once('?') {
        let query = query.split('#').next().unwrap_or_default();
        for pair in query.split('&') {
            if let Some((key, value)) = pair.split_once('=')
                && is_secret_key(key)
            {
                found.push(value.to_owned());
            }
        }
    }
    let decoded: Vec<String> = found.iter().map(|p| percent_decode(p)).collect();
    found.extend(decoded);
    found.retain(|p| !p.is_empty());
    found.sort();
    found.dedup();
    found
}

/// `text` with each of `url`'s passwords replaced by `***`.
pub fn scrub(text: &str, url: &str) -> String {
    // Longest first, so a password containing another one is replaced whole.
    let mut passwords = url_passwords(url);
    passwords.sort_by_key(|p| std::cmp::Reverse(p.len()));
    passwords.iter().fold(text.to_owned(), |text, password| {
        text.replace(password, "***")
    })
}

/// `?a=1&password=x#f` with secret values replaced; the rest unchanged.
fn redact_query(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_owned();
    };
    let (query, fragment) = match query.split_once('#') {
        Some((query, fragment)) => (query, Some(fragment)),
        None => (query, None),
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if is_secret_key(key) => format!("{key}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    let fragment = fragment.map(|f| format!("#{f}")).unwrap_or_default();
    format!("{path}?{}{fragment}", pairs.join("&"))
}

/// `password`, `sslpassword` and the like.
fn is_secret_key(key: &str) -> bool {
    key.to_ascii_lowercase().contains("password")
}

/// Decodes `%XX` escapes; anything malformed is kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| text.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_user_info_and_query_passwords() {
        let cases = [
            (
                "postgres://shop:hunter2@db:5432/shop",
                "postgres://shop:***@db:5432/shop",
            ),
            ("postgres://shop@db/shop", "postgres://shop@db/shop"),
            ("postgres://db/shop", "postgres://db/shop"),
            (
                "postgresql://u:p%40ss@db/shop?sslmode=require&password=x#frag",
                "postgresql://u:***@db/shop?sslmode=require&password=***#frag",
            ),
            (
                "postgres://u:p@db?Password=x",
                "postgres://u:***@db?Password=***",
            ),
            ("sqlite::memory:", "sqlite::memory:"),
            ("sqlite:///var/lib/shop.db", "sqlite:///var/lib/shop.db"),
        ];
        for (url, want) in cases {
            assert_eq!(redact_url(url), want, "{url}");
        }
    }

    #[test]
    fn finds_passwords_as_written_and_decoded() {
        assert_eq!(
            url_passwords("postgres://u:p%40ss@db/shop?password=q"),
            ["p%40ss", "p@ss", "q"]
        );
        assert!(url_passwords("postgres://u@db/shop").is_empty());
        assert_eq!(
            scrub("auth failed for p@ss and p%40ss", "postgres://u:p%40ss@db"),
            "auth failed for *** and ***"
        );
    }
}
