//! What happens around every request: a request id and a log span, the
//! session (see [`crate::session`]), account (see [`crate::account`]) and
//! currency cookies, where the request came from (client address, HTTPS),
//! the cross-site check on form posts, error pages (problem documents under
//! `/api/`, see [`crate::api::problem`]), and security headers.
//!
//! Session ids and tokens never reach the log or a span: the request's log
//! line carries the session's tag (a short hash), how the session came about
//! and the signed-in account's id.

use std::{net::SocketAddr, time::Instant};

use axum::{
    body::Body,
    extract::{ConnectInfo, MatchedPath},
    extract::{Request, State},
    http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{Html, IntoResponse, Response},
};
use boutique_platform::telemetry::trace::{KeyValue, annotate, attr};
use tracing::Instrument;
use uuid::Uuid;

use crate::{
    State as AppState,
    account::{self, Resolved as AccountResolved},
    api::{self, problem::Problem},
    cookies::{self, ACCOUNT_COOKIE, Incoming, SESSION_COOKIE},
    ctx::Ctx,
    error::{AppError, ErrorPage},
    price,
    session::Origin,
    views,
};

/// Only our own origin may load anything; no inline script or style, no framing.
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
    form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// The middleware itself; see the module documentation.
pub(crate) async fn request(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let request_id = Uuid::new_v4().to_string();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %method,
        path = %path,
        account = tracing::field::Empty
    );

    async move {
        let base = &state.config.base_url;
        let incoming = Incoming::parse(req.headers());
        let sessionless = is_sessionless(base, &path);
        let resolved = (!sessionless).then(|| state.sessions.resolve(incoming.session.as_deref()));
        let currency = incoming
            .currency
            .filter(|code| price::is_offered(code))
            .unwrap_or_else(|| price::DEFAULT_CURRENCY.to_owned());
        annotate([KeyValue::new(attr::USER_CURRENCY, currency.clone())]);
        let account = match incoming.account.as_deref() {
            Some(token) if !sessionless => Some(account::resolve(&state.backends, token).await),
            _ => None,
        };
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| *addr);
        let ctx = Ctx {
            request_id: request_id.clone(),
            session: resolved.as_ref().map(|resolved| resolved.id.clone()),
            new_session: resolved.as_ref().is_some_and(|resolved| {
                matches!(resolved.origin, Origin::Minted | Origin::Replaced)
            }),
            account: match &account {
                Some(AccountResolved::SignedIn(signed_in)) => Some(signed_in.clone()),
                _ => None,
            },
            currency,
            path: req
                .uri()
                .path_and_query()
                .map_or_else(|| path.clone(), |pq| pq.as_str().to_owned()),
            client_address: client_address(req.headers(), peer, state.config.trusted_proxy_hops),
            https: is_https(req.headers()),
        };
        if let Some(signed_in) = &ctx.account {
            tracing::Span::current().record("account", signed_in.id.as_str());
        }

        let mut response = if is_unsafe(&method) && is_cross_site(req.headers()) {
            AppError::CrossSite.into_response()
        } else {
            req.extensions_mut().insert(ctx.clone());
            next.run(req).await
        };

        let status = response.status();
        let api = is_api(base, &path);
        let page = response.extensions_mut().remove::<ErrorPage>().or_else(|| {
            bare_error(&response, api)
                .then(|| {
                    ErrorPage::for_status(status).or_else(|| api.then(|| ErrorPage::bare(status)))
                })
                .flatten()
        });
        if let Some(page) = page {
            log_error(status, &page);
            let rendered = if api {
                let extras = response.extensions_mut().remove::<api::problem::Extras>();
                with_headers(
                    Problem::render(base, &ctx, status, &page, extras),
                    response.headers(),
                )
            } else {
                render_error(&state, &ctx, status, &page, response.headers())
            };
            // The page replaces the handler's response, but the request's
            // route (for the metrics) stays that of the handler.
            let route = response.extensions_mut().remove::<MatchedPath>();
            response = rendered;
            if let Some(route) = route {
                response.extensions_mut().insert(route);
            }
        }

        let headers = response.headers_mut();
        let jar = state.cookies.for_request(ctx.https);
        let new_cookie = resolved
            .as_ref()
            .and_then(|resolved| resolved.cookie.as_deref());
        if let Some(value) = new_cookie
            && !cookies::sets(headers, SESSION_COOKIE)
            && let Some(cookie) = jar.set(SESSION_COOKIE, value)
        {
            headers.append(header::SET_COOKIE, cookie);
        }
        // A token the accounts service refused is dropped, unless the
        // handler set a new one (a sign-in over a stale cookie).
        if matches!(account, Some(AccountResolved::Refused))
            && !cookies::sets(headers, ACCOUNT_COOKIE)
            && let Some(cookie) = jar.expire(ACCOUNT_COOKIE)
        {
            headers.append(header::SET_COOKIE, cookie);
        }
        security_headers(headers);
        tracing::info!(
            status = status.as_u16(),
            took_ms = started.elapsed().as_millis(),
            session = %ctx.session_tag(),
            session_origin = resolved.as_ref().map_or("none", |resolved| resolved.origin.as_str()),
            "Served request."
        );
        response
    }
    .instrument(span)
    .await
}

/// The client's address for the sign-in throttle: the connection's peer, or
/// with `hops` trusted proxies in front, the `hops`-th `X-Forwarded-For`
/// entry from the right (the address the outermost trusted proxy saw; what
/// is left of it the client could have written). Empty when unknown.
fn client_address(headers: &HeaderMap, peer: Option<SocketAddr>, hops: usize) -> String {
    let peer = peer.map(|addr| addr.ip().to_string()).unwrap_or_default();
    if hops == 0 {
        return peer;
    }
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .collect();
    match forwarded.len() {
        0 => peer,
        n => forwarded[n.saturating_sub(hops)].chars().take(64).collect(),
    }
}

/// True when the proxy that ended TLS says so (`X-Forwarded-Proto: https`;
/// the first value, where proxies chained their own).
fn is_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(',').next())
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

/// The JSON API answers errors with problem documents, not pages.
fn is_api(base: &str, path: &str) -> bool {
    path.strip_prefix(base).is_some_and(api::is_api)
}

/// Static files, health checks and robots.txt need no session; minting one
/// for every asset would only churn cookies.
fn is_sessionless(base: &str, path: &str) -> bool {
    path.strip_prefix(base).is_some_and(|rest| {
        rest.starts_with("/static/")
            || rest == "/_healthz"
            || rest == "/robots.txt"
            || api::is_sessionless(rest)
    })
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// True for a request a browser says came from another site. Clients that
/// send neither `Sec-Fetch-Site` nor `Origin` (curl, Locust) are not browsers
/// acting for a shopper, so they pass.
fn is_cross_site(headers: &HeaderMap) -> bool {
    if headers
        .get("sec-fetch-site")
        .is_some_and(|site| site.as_bytes().eq_ignore_ascii_case(b"cross-site"))
    {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let Some(authority) = origin.to_str().ok().and_then(|o| {
        o.strip_prefix("https://")
            .or_else(|| o.strip_prefix("http://"))
    }) else {
        // `null` (sandboxed frames, privacy redirects) or garbage.
        return true;
    };
    let matches = |name: HeaderName| {
        headers
            .get(name)
            .and_then(|host| host.to_str().ok())
            .is_some_and(|host| host.eq_ignore_ascii_case(authority))
    };
    !(matches(header::HOST) || matches(HeaderName::from_static("x-forwarded-host")))
}

/// An error status with an empty body (from a layer, not a handler). A 405
/// keeps its bare answer on the pages (as upstream), not in the API.
fn bare_error(response: &Response, api: bool) -> bool {
    use axum::body::HttpBody;
    let status = response.status();
    (status.is_client_error() || status.is_server_error())
        && (api || status != StatusCode::METHOD_NOT_ALLOWED)
        && response.body().size_hint().exact() == Some(0)
}

fn log_error(status: StatusCode, page: &ErrorPage) {
    let cause = page.cause.as_deref().unwrap_or("");
    if status.is_server_error() {
        tracing::error!(status = status.as_u16(), error = %cause, "Request failed.");
    } else if !cause.is_empty() {
        tracing::info!(status = status.as_u16(), error = %cause, "Request refused.");
    }
}

fn render_error(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    page: &ErrorPage,
    headers: &HeaderMap,
) -> Response {
    let response = match views::error_page(state, ctx, status, page) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            tracing::error!(error = %error, "Cannot render the error page.");
            (
                status,
                Body::from(format!(
                    "Error {}. Request id: {}",
                    status.as_u16(),
                    ctx.request_id
                )),
            )
                .into_response()
        }
    };
    with_headers(response, headers)
}

/// Keeps what the handler set (e.g. Allow) apart from the body's own headers.
fn with_headers(mut response: Response, headers: &HeaderMap) -> Response {
    for (name, value) in headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            response.headers_mut().append(name, value.clone());
        }
    }
    response
}

fn security_headers(headers: &mut HeaderMap) {
    let set = |headers: &mut HeaderMap, name: HeaderName, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(headers, header::CONTENT_SECURITY_POLICY, CSP);
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::REFERRER_POLICY, "same-origin");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    if !headers.contains_key(header::CACHE_CONTROL) {
        // Pages show a shopper's own cart: never keep them in shared caches.
        set(headers, header::CACHE_CONTROL, "no-store");
    }
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

    #[test]
    fn spots_cross_site_posts() {
        assert!(!is_cross_site(&headers(&[])));
        assert!(!is_cross_site(&headers(&[(
            "sec-fetch-site",
            "same-origin"
        )])));
        assert!(!is_cross_site(&headers(&[("sec-fetch-site", "same-site")])));
        assert!(is_cross_site(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(!is_cross_site(&headers(&[
            ("host", "shop.example:8080"),
            ("origin", "http://shop.example:8080")
        ])));
        assert!(is_cross_site(&headers(&[
            ("host", "shop.example"),
            ("origin", "https://evil.example")
        ])));
        assert!(is_cross_site(&headers(&[
            ("host", "shop.example"),
            ("origin", "null")
        ])));
        assert!(!is_cross_site(&headers(&[
            ("host", "frontend:8080"),
            ("x-forwarded-host", "shop.example"),
            ("origin", "https://shop.example")
        ])));
    }

    #[test]
    fn finds_the_client_and_https() {
        let peer: SocketAddr = "192.0.2.7:4000".parse().unwrap();
        let forwarded = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.9, 10.0.0.2")]);
        assert_eq!(client_address(&forwarded, Some(peer), 0), "192.0.2.7");
        assert_eq!(client_address(&forwarded, Some(peer), 1), "10.0.0.2");
        assert_eq!(client_address(&forwarded, Some(peer), 2), "203.0.113.9");
        assert_eq!(client_address(&forwarded, Some(peer), 9), "6.6.6.6");
        assert_eq!(client_address(&headers(&[]), Some(peer), 1), "192.0.2.7");
        assert_eq!(client_address(&headers(&[]), None, 0), "");
        assert!(is_https(&headers(&[("x-forwarded-proto", "HTTPS")])));
        assert!(is_https(&headers(&[("x-forwarded-proto", "https, http")])));
        assert!(!is_https(&headers(&[("x-forwarded-proto", "http")])));
        assert!(!is_https(&headers(&[])));
    }

    #[test]
    fn spots_api_paths() {
        assert!(is_api("", "/api/orders"));
        assert!(is_api("/b", "/b/api/v1/orders/x"));
        assert!(!is_api("/b", "/api/orders"));
        assert!(!is_api("", "/orders"));
        assert!(!is_api("", "/apix"));
        assert!(is_api("", "/health"));
    }

    #[test]
    fn skips_sessions_for_assets_and_probes() {
        assert!(is_sessionless("", "/static/styles.css"));
        assert!(is_sessionless("/b", "/b/_healthz"));
        assert!(!is_sessionless("/b", "/_healthz"));
        assert!(!is_sessionless("", "/cart"));
        assert!(is_sessionless("", "/health"));
        assert!(is_sessionless("/b", "/b/api/v1/openapi.json"));
        assert!(!is_sessionless("", "/api/v1/cart"));
    }
}
