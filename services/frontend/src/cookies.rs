//! The shop's cookies, read from `Cookie` and written as `Set-Cookie` with
//! the `cookie` crate: upstream's two (session and currency) with upstream's
//! names and 48-hour lifetime, and ours, `shop_account` (the signed-in
//! account's token, living as long as the token), each with what upstream
//! left out: a `Path` of `{BASE_URL}/`, `HttpOnly`, `SameSite=Lax`, and
//! `Secure` with `COOKIE_SECURE` or when the request came over HTTPS
//! (`X-Forwarded-Proto: https`).

use axum::http::{HeaderMap, HeaderValue, header};
use cookie::{Cookie, SameSite, time::Duration};

use crate::config::Config;

/// The session cookie's name, as upstream.
pub(crate) const SESSION_COOKIE: &str = "shop_session-id";
/// The currency cookie's name, as upstream.
pub(crate) const CURRENCY_COOKIE: &str = "shop_currency";
/// The signed-in account's token (ours; see [`crate::account`]).
pub(crate) const ACCOUNT_COOKIE: &str = "shop_account";
/// Cookie lifetime: 48 hours, as upstream.
pub(crate) const COOKIE_MAX_AGE: Duration = Duration::hours(48);

/// How every cookie we set is scoped, resolved once from the settings.
#[derive(Debug, Clone)]
pub(crate) struct CookieJar {
    /// `{BASE_URL}/`.
    path: String,
    secure: bool,
}

impl CookieJar {
    pub(crate) fn new(config: &Config) -> Self {
        Self::scoped(&config.base_url, config.cookie_secure)
    }

    /// Cookies under `{base_url}/`, `Secure` if `secure`.
    pub(crate) fn scoped(base_url: &str, secure: bool) -> Self {
        Self {
            path: format!("{base_url}/"),
            secure,
        }
    }

    /// The same jar for a request that came over HTTPS or not: `Secure` is
    /// added for HTTPS even without `COOKIE_SECURE` (a browser would not
    /// send such a cookie over plain HTTP, so only HTTPS requests get it).
    pub(crate) fn for_request(&self, https: bool) -> Self {
        Self {
            path: self.path.clone(),
            secure: self.secure || https,
        }
    }

    /// `Set-Cookie` for `name=value`, living for [`COOKIE_MAX_AGE`].
    pub(crate) fn set(&self, name: &str, value: &str) -> Option<HeaderValue> {
        self.set_for(name, value, COOKIE_MAX_AGE)
    }

    /// `Set-Cookie` for `name=value`, living for `max_age`.
    pub(crate) fn set_for(
        &self,
        name: &str,
        value: &str,
        max_age: Duration,
    ) -> Option<HeaderValue> {
        let mut cookie = self.cookie(name, value);
        cookie.set_max_age(max_age);
        header_value(&cookie)
    }

    /// `Set-Cookie` that makes the browser drop `name` (empty, `Max-Age=0`,
    /// expired a year ago, as upstream).
    pub(crate) fn expire(&self, name: &str) -> Option<HeaderValue> {
        let mut cookie = self.cookie(name, "");
        cookie.make_removal();
        header_value(&cookie)
    }

    fn cookie<'c>(&self, name: &'c str, value: &'c str) -> Cookie<'c> {
        Cookie::build((name, value))
            .path(self.path.clone())
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure)
            .build()
    }
}

/// A value that cannot be a header (never so for the values we set) is
/// dropped rather than answered with an error.
fn header_value(cookie: &Cookie<'_>) -> Option<HeaderValue> {
    HeaderValue::from_str(&cookie.to_string()).ok()
}

/// Our cookies, read from every `Cookie` header; where a name repeats, the
/// first wins (browsers send the most specific path first).
#[derive(Default)]
pub(crate) struct Incoming {
    pub(crate) session: Option<String>,
    pub(crate) currency: Option<String>,
    /// The account token: never printed (see the `Debug` below).
    pub(crate) account: Option<String>,
    /// Every cookie name the browser sent, for logout.
    pub(crate) names: Vec<String>,
}

impl Incoming {
    pub(crate) fn parse(headers: &HeaderMap) -> Self {
        let mut incoming = Self::default();
        let cookies = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(Cookie::split_parse)
            .filter_map(Result::ok);
        for cookie in cookies {
            let slot = match cookie.name() {
                SESSION_COOKIE => Some(&mut incoming.session),
                CURRENCY_COOKIE => Some(&mut incoming.currency),
                ACCOUNT_COOKIE => Some(&mut incoming.account),
                _ => None,
            };
            if let Some(slot) = slot
                && slot.is_none()
            {
                *slot = Some(cookie.value().to_owned());
            }
            incoming.names.push(cookie.name().to_owned());
        }
        incoming
    }
}

impl std::fmt::Debug for Incoming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Incoming")
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

/// True when `headers` already set the cookie `name` (e.g. logout expiring
/// the session), so the middleware does not set it again.
pub(crate) fn sets(headers: &HeaderMap, name: &str) -> bool {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| Cookie::parse(value).ok())
        .any(|cookie| cookie.name() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn jar(base_url: &str, cookie_secure: bool) -> CookieJar {
        CookieJar::scoped(base_url, cookie_secure)
    }

    #[test]
    fn reads_cookies() {
        let incoming = Incoming::parse(&headers(&[
            (
                "cookie",
                "a=1; shop_session-id=abc; shop_currency=EUR; junk",
            ),
            ("cookie", "shop_currency=JPY"),
        ]));
        assert_eq!(incoming.session.as_deref(), Some("abc"));
        assert_eq!(incoming.currency.as_deref(), Some("EUR"));
        assert_eq!(
            incoming.names,
            ["a", "shop_session-id", "shop_currency", "shop_currency"]
        );
    }

    #[test]
    fn writes_scoped_http_only_cookies() {
        let set = jar("/shop", false).set(SESSION_COOKIE, "v.s").unwrap();
        assert_eq!(
            set,
            "shop_session-id=v.s; HttpOnly; SameSite=Lax; Path=/shop/; Max-Age=172800"
        );
        let secure = jar("", true).set(CURRENCY_COOKIE, "EUR").unwrap();
        assert_eq!(
            secure,
            "shop_currency=EUR; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=172800"
        );
        let https = jar("", false).for_request(true);
        let account = https
            .set_for(ACCOUNT_COOKIE, "t", Duration::seconds(60))
            .unwrap();
        assert_eq!(
            account,
            "shop_account=t; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=60"
        );
        assert!(!jar("", false).for_request(false).secure);
        let expired = jar("", false).expire("a").unwrap();
        let text = expired.to_str().unwrap();
        assert!(text.starts_with("a=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0; Expires="));
        let mut response = HeaderMap::new();
        response.append(header::SET_COOKIE, expired);
        assert!(sets(&response, "a") && !sets(&response, "ab"));
    }
}
