//! Entry points for the fuzz targets (`fuzz/`, feature `fuzzing`): the
//! storefront's own parsing of what a browser or an API client sends,
//! reached through the same functions the handlers and the middleware call,
//! so nothing is copied. Not part of the shop's API.

use axum::{
    Form,
    body::Body,
    extract::{FromRequest, Query},
    http::{HeaderMap, HeaderValue, Request, Uri, header},
};

use crate::{
    api::{accounts, cart, checkout, extract, ratings, schema},
    cookies::{self, CookieJar, Incoming, SESSION_COOKIE},
    handlers,
    session::{SessionKey, Sessions},
    validate::{self, Fields},
};

/// A form body as the page handlers read it: axum's `Form` extractor with
/// `content_type`, then the handlers' `form_fields`. `Err` is the 400's text.
pub fn form(content_type: &str, body: &[u8]) -> Result<Fields, String> {
    let request = Request::post("/cart")
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body.to_vec()))
        .map_err(|error| error.to_string())?;
    let form =
        futures::executor::block_on(Form::<Vec<(String, String)>>::from_request(request, &()));
    handlers::form_fields(form).map_err(|error| error.to_string())
}

/// The query string of one of our routes, as the handlers read it (`None`
/// for text that is no URI's query, which never reaches a handler).
pub fn query(query: &str) -> Option<Result<Fields, String>> {
    let uri: Uri = format!("/orders?{query}").parse().ok()?;
    let query = Query::<Vec<(String, String)>>::try_from_uri(&uri);
    Some(handlers::query_fields(query).map_err(|error| error.to_string()))
}

/// The cookies the middleware reads from `Cookie` headers (values that
/// cannot be a header are left out, as the HTTP server refuses them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cookies {
    /// `shop_session-id`, the first one sent.
    pub session: Option<String>,
    /// `shop_currency`, the first one sent.
    pub currency: Option<String>,
    /// `shop_account`, the first one sent.
    pub account: Option<String>,
    /// Every name sent.
    pub names: Vec<String>,
}

/// Reads `Cookie` headers as the middleware does.
pub fn cookies<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Cookies {
    let mut headers = HeaderMap::new();
    for value in values {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append(header::COOKIE, value);
        }
    }
    let Incoming {
        session,
        currency,
        account,
        names,
    } = Incoming::parse(&headers);
    Cookies {
        session,
        currency,
        account,
        names,
    }
}

/// The `Set-Cookie` value the middleware sends for the session cookie, and
/// whether the middleware would see it as already set.
pub fn set_session_cookie(value: &str) -> Option<(String, bool)> {
    let header = CookieJar::scoped("", false).set(SESSION_COOKIE, value)?;
    let mut headers = HeaderMap::new();
    headers.append(header::SET_COOKIE, header.clone());
    let text = header.to_str().ok()?.to_owned();
    Some((text, cookies::sets(&headers, SESSION_COOKIE)))
}

/// The session verifier of a storefront with these secrets.
#[derive(Debug, Clone)]
pub struct SessionCheck(Sessions);

/// How a cookie value was resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// `kept`, `resigned`, `minted`, `replaced` or `probe`.
    pub origin: &'static str,
    /// The session id the request gets.
    pub id: String,
    /// The cookie value to set, if any.
    pub cookie: Option<String>,
}

impl SessionCheck {
    /// `None` for a secret too short to be a key.
    pub fn new(current: &[u8], previous: Option<&[u8]>, shared: bool) -> Option<Self> {
        let current = SessionKey::from_secret(current).ok()?;
        let previous = match previous {
            Some(secret) => Some(SessionKey::from_secret(secret).ok()?),
            None => None,
        };
        Some(Self(Sessions::new(current, previous, shared)))
    }

    /// The session for a request carrying `cookie`.
    pub fn resolve(&self, cookie: Option<&str>) -> Resolution {
        let resolved = self.0.resolve(cookie);
        Resolution {
            origin: resolved.origin.as_str(),
            id: resolved.id.as_str().to_owned(),
            cookie: resolved.cookie,
        }
    }
}

/// `POST /api/v1/cart/items`: the body read as the handler reads it, then
/// checked; the product id and quantity to add, or the problem's text.
pub fn api_add_cart_item(body: &[u8]) -> Result<(String, i32), String> {
    let item: schema::AddCartItem = extract::parse(body).map_err(|error| format!("{error:?}"))?;
    let quantity = cart::check_item(&item).map_err(|error| format!("{error:?}"))?;
    Ok((item.product_id, quantity))
}

/// `POST /api/v1/checkout`: the body read and checked as the handler does;
/// the checked form, or the problem's text.
pub fn api_checkout(body: &[u8]) -> Result<validate::Checkout, String> {
    let request: schema::CheckoutRequest =
        extract::parse(body).map_err(|error| format!("{error:?}"))?;
    checkout::check_body(&request).map_err(|error| format!("{error:?}"))
}

/// `PUT /api/v1/products/{id}/ratings/mine`: the body read and checked as
/// the handler does; the stars and the normalised review, or the problem's
/// text.
pub fn api_put_rating(body: &[u8]) -> Result<(i32, String), String> {
    let rating: ratings::PutRatingBody =
        extract::parse(body).map_err(|error| format!("{error:?}"))?;
    ratings::check_rating(&rating).map_err(|error| format!("{error:?}"))
}

/// The longest review the storefront passes on, in characters.
pub const MAX_REVIEW_CHARS: usize = crate::ratings::MAX_TEXT_CHARS;

/// `POST /api/v1/accounts` and `POST /api/v1/sessions`: the body read and
/// checked as the handlers do before calling the accounts service; the
/// email and password (the same fields in both), or the problem's text.
pub fn api_credentials(body: &[u8]) -> Result<(String, String), String> {
    let body: accounts::SignInBody = extract::parse(body).map_err(|error| format!("{error:?}"))?;
    accounts::required(&[("/email", &body.email), ("/password", &body.password)])
        .map_err(|error| format!("{error:?}"))?;
    Ok((body.email, body.password))
}

/// The checkout's `Idempotency-Key` header (`None` if it cannot be a header).
pub fn api_idempotency_key(value: &[u8]) -> Option<Result<Option<String>, String>> {
    let value = HeaderValue::from_bytes(value).ok()?;
    let mut headers = HeaderMap::new();
    headers.insert(checkout::IDEMPOTENCY_KEY, value);
    Some(checkout::idempotency_key(&headers).map_err(|error| format!("{error:?}")))
}

/// A page of a list of `len` items: the indices on it and the next page's
/// token, or the problem's text.
pub fn api_page(
    fields: &Fields,
    len: usize,
) -> Result<(std::ops::Range<usize>, Option<String>), String> {
    let page = extract::Page::from_fields(fields).map_err(|error| format!("{error:?}"))?;
    let items: Vec<usize> = (0..len).collect();
    let (slice, next) = page.slice(&items);
    let range = match (slice.first(), slice.last()) {
        (Some(first), Some(last)) => *first..*last + 1,
        _ => 0..0,
    };
    Ok((range, next))
}
