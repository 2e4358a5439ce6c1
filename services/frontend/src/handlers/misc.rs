//! The small routes: currency, logout, product JSON, robots, health, 404.

use axum::{
    Extension, Form, Json,
    extract::{Path, State, rejection::FormRejection},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use crate::{
    State as AppState,
    cookies::{ACCOUNT_COOKIE, CURRENCY_COOKIE, Incoming, SESSION_COOKIE},
    ctx::Ctx,
    error::AppError,
    handlers::{form_fields, found, json_error},
    validate,
};

/// Sets the currency cookie and sends the shopper back where they were: to
/// the `Referer` when it is a page of this shop, else home. Only the
/// currencies the header offers are accepted (422 otherwise).
pub(crate) async fn set_currency(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response, AppError> {
    let fields = form_fields(form)?;
    let code = validate::currency(&fields).map_err(AppError::Invalid)?;
    let base = &state.config.base_url;
    let target = same_origin_referer(&headers, base).unwrap_or_else(|| format!("{base}/"));
    let mut response = found(&target);
    if let Some(cookie) = state
        .cookies
        .for_request(ctx.https)
        .set(CURRENCY_COOKIE, &code)
    {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// The path and query of the `Referer` when it points into this shop (same
/// host, under `BASE_URL`); anything else could bounce the shopper off-site.
fn same_origin_referer(headers: &HeaderMap, base: &str) -> Option<String> {
    let referer = headers.get(header::REFERER)?.to_str().ok()?;
    let rest = referer
        .strip_prefix("http://")
        .or_else(|| referer.strip_prefix("https://"))?;
    let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    let host = headers
        .get(header::HOST)
        .or_else(|| headers.get("x-forwarded-host"))?
        .to_str()
        .ok()?;
    if !authority.eq_ignore_ascii_case(host) {
        return None;
    }
    let path = path.split('#').next().unwrap_or_default();
    let under_base = path.strip_prefix(base).is_some_and(|p| p.starts_with('/'));
    (under_base && !path.starts_with("//") && !path.contains('\\')).then(|| path.to_owned())
}

/// Expires every cookie the browser sent (ours first), then home, as
/// upstream; a signed-in shopper's token is signed out too.
pub(crate) async fn logout(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
) -> Response {
    let base = &state.config.base_url;
    if let Some(account) = &ctx.account
        && let Err(error) = state.backends.sign_out(account.token.as_str()).await
    {
        tracing::warn!(error = %error, "Cannot sign the token out.");
    }
    let mut response = found(&format!("{base}/"));
    let sent = Incoming::parse(&headers).names;
    let jar = state.cookies.for_request(ctx.https);
    let names = [SESSION_COOKIE, CURRENCY_COOKIE, ACCOUNT_COOKIE]
        .into_iter()
        .chain(
            sent.iter()
                .map(String::as_str)
                .filter(|name| is_token(name)),
        );
    let mut expired: Vec<&str> = Vec::new();
    for name in names {
        if expired.contains(&name) {
            continue;
        }
        expired.push(name);
        if let Some(cookie) = jar.expire(name) {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
    }
    response
}

/// Cookie names are RFC 6265 tokens; anything else is not echoed back.
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A product as upstream's JSON: snake_case keys, empty values left out.
#[derive(Debug, Serialize)]
struct ProductMeta {
    #[serde(skip_serializing_if = "String::is_empty")]
    id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    description: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    picture: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    price_usd: Option<MoneyMeta>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    categories: Vec<String>,
}

#[derive(Debug, Serialize)]
struct MoneyMeta {
    #[serde(skip_serializing_if = "String::is_empty")]
    currency_code: String,
    #[serde(skip_serializing_if = "is_zero_i64")]
    units: i64,
    #[serde(skip_serializing_if = "is_zero_i32")]
    nanos: i32,
}

fn is_zero_i64(value: &i64) -> bool {
    *value == 0
}

fn is_zero_i32(value: &i32) -> bool {
    *value == 0
}

/// `GET /product-meta/{id}`: the product as JSON; unknown ids are 404 and
/// failures 5xx, each with a JSON `error` (upstream answered 200 and nothing).
pub(crate) async fn product_meta(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Response {
    if !validate::is_product_id(&id) {
        return json_error(StatusCode::NOT_FOUND, "product not found");
    }
    match state.backends.get_product(&id).await {
        Ok(product) => Json(ProductMeta {
            id: product.id,
            name: product.name,
            description: product.description,
            picture: product.picture,
            price_usd: product.price_usd.map(|money| MoneyMeta {
                currency_code: money.currency_code,
                units: money.units,
                nanos: money.nanos,
            }),
            categories: product.categories,
        })
        .into_response(),
        Err(error) if error.code() == Some(tonic::Code::NotFound) => {
            json_error(StatusCode::NOT_FOUND, "product not found")
        }
        Err(error) => {
            tracing::error!(error = %error, "Cannot look up the product.");
            if error.is_unavailable() {
                json_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the catalog is unavailable",
                )
            } else {
                json_error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
            }
        }
    }
}

/// Keeps crawlers out, as upstream.
pub(crate) async fn robots() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "User-agent: *\nDisallow: /",
    )
}

/// Liveness and readiness: the process serves HTTP. Backends are not
/// checked, as upstream, so one backend's outage does not take the shop down.
pub(crate) async fn healthz() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "ok")
}

/// Every path we do not serve.
pub(crate) async fn not_found() -> AppError {
    AppError::NotFound
}

/// `{BASE_URL}` without the slash: send the shopper to `{BASE_URL}/`.
pub(crate) async fn to_home(State(state): State<AppState>) -> Response {
    found(&format!("{}/", state.config.base_url))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(host: &'static str, referer: &'static str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(header::HOST, HeaderValue::from_static(host));
        map.insert(header::REFERER, HeaderValue::from_static(referer));
        map
    }

    #[test]
    fn follows_only_same_origin_referers() {
        let same = headers("shop.example", "https://shop.example/product/X?a=1#top");
        assert_eq!(
            same_origin_referer(&same, "").as_deref(),
            Some("/product/X?a=1")
        );
        let other = headers("shop.example", "https://evil.example/product/X");
        assert_eq!(same_origin_referer(&other, ""), None);
        let tricky = headers("shop.example", "https://shop.example.evil.example/");
        assert_eq!(same_origin_referer(&tricky, ""), None);
        let outside_base = headers("shop.example", "http://shop.example/other/");
        assert_eq!(same_origin_referer(&outside_base, "/shop"), None);
        let inside_base = headers("shop.example", "http://shop.example/shop/cart");
        assert_eq!(
            same_origin_referer(&inside_base, "/shop").as_deref(),
            Some("/shop/cart")
        );
        let bare_host = headers("shop.example", "http://shop.example");
        assert_eq!(same_origin_referer(&bare_host, ""), None);
    }

    #[test]
    fn product_meta_leaves_out_empty_values() {
        let json = serde_json::to_value(ProductMeta {
            id: "X".to_owned(),
            name: String::new(),
            description: String::new(),
            picture: String::new(),
            price_usd: Some(MoneyMeta {
                currency_code: "USD".to_owned(),
                units: 5,
                nanos: 0,
            }),
            categories: Vec::new(),
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"id": "X", "price_usd": {"currency_code": "USD", "units": 5}})
        );
    }
}
