//! The storefront: server-rendered HTML pages over the shop's gRPC services.
//!
//! HTTP-compatible with upstream's Go frontend: the same routes, methods, form
//! fields, validation rules, status codes, cookies and redirects, all under
//! `BASE_URL`, so upstream clients (browsers, the Locust load generator) work
//! unchanged. What it fixes: session ids are minted by the server only (UUIDv4)
//! and signed (HMAC-SHA256, see [`session`]), so a forged or tampered cookie
//! is replaced, never trusted, and ids never reach the logs; cookies are
//! `HttpOnly; SameSite=Lax` with a `Path`; unknown products are 404; a backend
//! outage is a friendly page with a request id, never internals; ads and
//! recommendations fail soft; cross-site form posts are refused; security
//! headers on every response; all assets are embedded in the binary; the
//! shopping assistant (`/assistant`, `/bot`) is optional. Ours beyond
//! upstream: a shopper's orders (pages) from the orders service, accounts
//! (sign-up, sign-in, the account page; see [`account`]) with the accounts
//! service, ratings and reviews on product pages with the ratings service,
//! and a public JSON REST API with a generated OpenAPI 3.1 document
//! (`/api/v1`), for guests and for accounts (bearer tokens).
//!
//! # Routes
//!
//! Every path is under `BASE_URL`.
//!
//! | Route | What |
//! |---|---|
//! | `GET /` | Hot Products: every product, priced in the shopper's currency. |
//! | `GET /product/{id}` | A product, with an ad and recommendations (both optional). |
//! | `GET /cart`, `POST /cart` | The cart and checkout form; add a product (302 to the cart). |
//! | `POST /cart/empty` | Empty the cart (302 home). |
//! | `POST /cart/checkout` | Place the order; the confirmation links to the order's page. |
//! | `GET /orders` | The session's orders, newest first, 20 a page (`?page_token=`, a "More orders" link). |
//! | `GET /orders/{id}` | One order: lines, address, total, tracking id, timeline (UTC), warnings. Another session's order is a 404, like an unknown id. |
//! | `GET/POST /signup`, `GET/POST /signin` | Create an account / sign in (`next`: a page of ours to return to); the guest cart and orders join the account, and the guest session is replaced. |
//! | `POST /signout` | Sign the token out, drop the account cookie, start a new guest session. |
//! | `GET /account` | The account page; `POST /account/password`, `/account/signout-everywhere`, `/account/delete` (orders kept, anonymised). |
//! | `POST /product/{id}/rating`, `POST /product/{id}/rating/delete` | The signed-in shopper's rating (`stars` 1–5, `text`); 302 back to the reviews. Product pages show the summary and reviews (`?reviews=` pages). |
//! | `GET /api/v1/products` | Products as JSON, 20 a page (`?page_size=` 1–100, `?page_token=`), `?q=` searches (the catalog's SearchProducts). |
//! | `GET /api/v1/products/{id}` | One product (404 if unknown). |
//! | `GET /api/v1/currencies` | The supported currency codes and the caller's default. |
//! | `GET /api/v1/cart`, `DELETE /api/v1/cart` | The caller's cart, priced (200); empty it (204). |
//! | `POST /api/v1/cart/items` | Add `{"product_id", "quantity"}` (1–10); answers the cart (200). |
//! | `POST /api/v1/checkout` | Place the order (`Idempotency-Key` header): 201 with `Location: /api/v1/orders/{id}`; 409, 422, 503 problems. |
//! | `GET /api/v1/orders` | The caller's orders: `{"orders": [...], "next_page_token": ...}` (`?page_size=` 1–100, `?page_token=`). |
//! | `GET /api/v1/orders/{id}` | One order (another caller's is a 404, like an unknown id). |
//! | `GET /api/orders`, `GET /api/products` | TechCommerce's bare JSON arrays (orders: the next page in `Link`). |
//! | `POST /api/v1/accounts`, `POST /api/v1/sessions` | Sign up (201) / sign in (200): `{"token", "expires_at", "account"}`. |
//! | `DELETE /api/v1/sessions/current`, `GET /api/v1/accounts/me` | Sign the bearer token out (204); the account (200). 401 without a working token. |
//! | `GET /api/v1/products/{id}/ratings`, `PUT`/`DELETE /api/v1/products/{id}/ratings/mine` | A product's ratings, paged; the caller's own rating (bearer token). |
//! | `GET /api/v1/openapi.json`, `GET /api/v1/docs` | The API's OpenAPI 3.1 document, generated from the code, and its reference page (no session). |
//! | `GET /health` | `{"status":"healthy","service":"frontend"}` (no session). |
//! | `POST /setCurrency` | Choose a currency (302 back). |
//! | `GET /logout` | Expire the cookies (302 home). |
//! | `GET /product-meta/{id}` | A product as upstream's JSON. |
//! | `GET /assistant`, `POST /bot` | The shopping assistant's page and its pass-through. |
//! | `GET /static/...`, `/robots.txt`, `/_healthz` | Embedded assets, robots, health (no session). |
//!
//! Errors under `/api/` (and `/health`) are RFC 9457
//! `application/problem+json` documents with a stable `code` (see the `api`
//! module); everywhere else they are pages. Prices in the API are in
//! `?currency=` (default: the currency cookie, else USD), money always
//! `{"currency_code", "units", "nanos", "display"}`. The orders routes need only the orders
//! service (the order page shows product ids when the catalog is down), and
//! no other page calls it, so an orders outage is a 503 there and nowhere else.
//!
//! # Environment
//!
//! | Variable | Default | Meaning |
//! |---|---|---|
//! | `PRODUCT_CATALOG_SERVICE_ADDR`, `CURRENCY_SERVICE_ADDR`, `CART_SERVICE_ADDR`, `RECOMMENDATION_SERVICE_ADDR`, `CHECKOUT_SERVICE_ADDR`, `SHIPPING_SERVICE_ADDR`, `AD_SERVICE_ADDR`, `ORDERS_SERVICE_ADDR`, `ACCOUNTS_SERVICE_ADDR`, `RATINGS_SERVICE_ADDR` | required | `host:port` of each backend (the directory's list of the storefront's calls). |
//! | `PORT` | `8080` | Listen port. |
//! | `LISTEN_ADDR` | `0.0.0.0` | Listen host. |
//! | `BASE_URL` | empty | Path prefix of every route, link and cookie, e.g. `/online-boutique`. |
//! | `ENV_PLATFORM` | `local` | Banner: `local`, `gcp`, `azure`, `aws`, `onprem`, `alibaba` (anything else is `local`). |
//! | `FRONTEND_MESSAGE` | unset | A message shown at the top of every page. |
//! | `ENABLE_SINGLE_SHARED_SESSION` | `false` | Every new session gets upstream's constant id. |
//! | `CYMBAL_BRANDING` | `false` | Call the shop "Cymbal Shops". |
//! | `COOKIE_SECURE` | `false` | Add `Secure` to cookies (set it when served over TLS). A request with `X-Forwarded-Proto: https` gets `Secure` cookies without it. |
//! | `TRUSTED_PROXY_HOPS` | `0` | How many proxies in front of the shop append to `X-Forwarded-For`: the client address passed to the accounts service's sign-in throttle is that many entries from the right; `0` takes the connection's peer and ignores the header. |
//! | `FLAGD_*` | no flags | Failure flags (`boutique_flags::config`): `imageSlowLoad` holds product pictures back. |
//! | `SESSION_SECRET` or `SESSION_SECRET_FILE` | a key per process | The secret (at least 32 bytes) that signs session cookies, or a file holding it (e.g. a mounted Kubernetes Secret). Unset, sessions end with the process and are not shared by replicas (logged as a warning). |
//! | `SESSION_SECRET_PREVIOUS` or `SESSION_SECRET_PREVIOUS_FILE` | unset | The secret being rotated out: it still verifies, and its sessions are signed again with the current one. |
//! | `SHOPPING_ASSISTANT_SERVICE_ADDR` | unset | `host:port` of upstream's shopping assistant (`POST /bot` forwards to it). Optional, unlike upstream: without it `/assistant` says it is not set up and `/bot` answers 503. |
//! | `ENABLE_ASSISTANT` | `false` | Link the assistant from the header (needs the address). |
//! | `ASSISTANT_TIMEOUT` | `15s` | How long `/bot` waits for the assistant (a Go duration below the 20 s request timeout); then 504. |
//! | `CACHE_TTL` | `5s` | How long the currency list (`GetSupportedCurrencies`), the catalog (`ListProducts`, which also answers `GetProduct` for the ids it holds), conversions (`Convert`, at most 1,024 amounts), and each product's ratings summary and newest reviews (forgotten when a rating is written through this process) are reused; a Go duration up to `60s`. `0` asks the backends on every request, as upstream (e.g. to demo the catalog's `EXTRA_LATENCY` on every page). Failures are never cached. |
//!
//! # Choices worth knowing
//!
//! - Product pictures are our own SVG drawings, served at the catalog's
//!   `/static/img/products/<name>.jpg` paths with `Content-Type: image/svg+xml`,
//!   so catalogs written for upstream keep working.
//! - A declined card puts the shopper back on the cart page with HTTP 422 and
//!   the reason; a checkout outage does the same with 503 (other failures 500).
//! - Answers that are the same on almost every page are cached for `CACHE_TTL`
//!   (above): a changed catalog, currency list or rate shows within that time,
//!   and a backend outage shows as soon as the cached answer expires (at once
//!   for pages that need an uncached call, e.g. the cart).
//! - `/setCurrency` accepts only the currencies the header offers (EUR, USD,
//!   JPY, GBP, TRY, CAD); upstream took any ISO code.

mod account;
mod api;
mod assets;
mod assistant;
pub mod backends;
mod cache;
pub mod config;
mod cookies;
mod ctx;
mod error;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod handlers;
mod middleware;
mod orders;
pub mod price;
mod ratings;
pub mod session;
pub mod validate;
mod views;

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    error_handling::HandleErrorLayer,
    extract::DefaultBodyLimit,
    http::{StatusCode, header},
    routing::{any, get, post},
};
use boutique_flags::Flags;
use boutique_platform::{
    App, HttpServer, ServerError, Telemetry, telemetry::http as http_telemetry,
};
use boutique_proto::directory;
use tower_http::timeout::TimeoutLayer;

pub use crate::{
    backends::Backends,
    config::{Config, Platform, SHARED_SESSION_ID},
    session::SessionKey,
};

/// How long one request may take before it is answered with an error page;
/// it also bounds how long a slow request can hold up shutdown.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// What every handler shares: settings resolved once and the backend clients.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) backends: Backends,
    /// How every cookie we set is scoped.
    pub(crate) cookies: cookies::CookieJar,
    /// Mints and verifies sessions.
    pub(crate) sessions: session::Sessions,
    /// The shopping assistant, when configured.
    pub(crate) assistant: Option<assistant::Assistant>,
    /// The REST API's OpenAPI document and reference page, made once.
    pub(crate) api_document: api::docs::Document,
    /// The failure flags (`imageSlowLoad`).
    pub(crate) flags: Flags,
}

pub(crate) type State = Arc<Shared>;

/// Every operation of the REST API as `(method, path)`, paths without
/// `BASE_URL`: what the router serves, for the test that checks it against
/// the OpenAPI document served at `/api/v1/openapi.json`.
#[doc(hidden)]
pub fn api_operations() -> Vec<(String, String)> {
    api::routes("")
        .table()
        .iter()
        .map(|(method, path)| (method.to_string(), (*path).to_owned()))
        .collect()
}

/// Makes the backend channels (lazily: nothing connects yet) and binds the
/// listener: the storefront's half of [`boutique_platform::ServiceConfig`].
async fn build(config: Config, telemetry: Telemetry) -> Result<App, ServerError> {
    let backends = Backends::connect(&config.peers, &telemetry)?.with_cache_ttl(config.cache_ttl);
    let listen = config.listen;
    let router = router(config, backends, telemetry);
    Ok(HttpServer::bind(directory::FRONTEND.name, listen, router)
        .await?
        .into())
}

/// The whole HTTP surface, for [`App`] and for in-process tests.
pub fn router(config: Config, backends: Backends, telemetry: Telemetry) -> Router {
    let cookies = cookies::CookieJar::new(&config);
    let session_key = config.session_key.clone().unwrap_or_else(|| {
        tracing::warn!(
            "SESSION_SECRET is not set: sessions are signed with a key drawn for this process, \
             so they end when it stops and other replicas do not accept them."
        );
        SessionKey::generate()
    });
    let sessions = session::Sessions::new(
        session_key,
        config.previous_session_key.clone(),
        config.single_shared_session,
    );
    let assistant = config.assistant_addr.as_deref().and_then(|addr| {
        assistant::Assistant::new(addr, config.assistant_timeout)
            .inspect_err(|error| {
                tracing::error!(error = %error, "Cannot make the assistant's HTTP client; /bot will answer 503.");
            })
            .ok()
    });
    let base = config.base_url.clone();
    let max_in_flight = config.max_in_flight;
    // Generated from the code's annotations, so it cannot fail but by a bug
    // that every test would show.
    let api_document = api::docs::Document::new(&base)
        .unwrap_or_else(|error| panic!("cannot make the OpenAPI document: {error}"));
    let flags = Flags::new(&config.flags, &telemetry);
    let state: State = Arc::new(Shared {
        config,
        backends,
        cookies,
        sessions,
        assistant,
        api_document,
        flags,
    });
    let p = |path: &str| format!("{base}{path}");
    let mut routes = Router::new()
        .route(&p("/"), get(handlers::home::home))
        .route(&p("/product/{id}"), get(handlers::product::product))
        .route(&p("/product/{id}/rating"), post(handlers::product::rate))
        .route(
            &p("/product/{id}/rating/delete"),
            post(handlers::product::unrate),
        )
        .route(
            &p("/signin"),
            get(handlers::account::sign_in_page).post(handlers::account::sign_in),
        )
        .route(
            &p("/signup"),
            get(handlers::account::sign_up_page).post(handlers::account::sign_up),
        )
        .route(&p("/signout"), post(handlers::account::sign_out))
        .route(&p("/account"), get(handlers::account::account_page))
        .route(
            &p("/account/password"),
            post(handlers::account::change_password),
        )
        .route(
            &p("/account/signout-everywhere"),
            post(handlers::account::sign_out_everywhere),
        )
        .route(
            &p("/account/delete"),
            post(handlers::account::delete_account),
        )
        .route(
            &p("/cart"),
            get(handlers::cart::view_cart).post(handlers::cart::add_to_cart),
        )
        .route(&p("/cart/empty"), post(handlers::cart::empty_cart))
        .route(&p("/cart/checkout"), post(handlers::checkout::place_order))
        .route(&p("/orders"), get(handlers::orders::list))
        .route(&p("/orders/{id}"), get(handlers::orders::detail))
        .route(&p("/setCurrency"), post(handlers::misc::set_currency))
        // Upstream serves GET only; HEAD would log a shopper out just the same,
        // so it is refused like any other method.
        .route(
            &p("/logout"),
            get(handlers::misc::logout).head(|| async { StatusCode::METHOD_NOT_ALLOWED }),
        )
        .route(&p("/product-meta/{id}"), get(handlers::misc::product_meta))
        .route(&p("/assistant"), get(handlers::assistant::page))
        .route(
            &p("/bot"),
            post(handlers::assistant::bot).layer(DefaultBodyLimit::max(
                handlers::assistant::MAX_QUESTION_BYTES,
            )),
        )
        .route(&p("/static/{*path}"), get(assets::serve))
        .route(&p("/robots.txt"), any(handlers::misc::robots))
        .merge(api::routes(&base).into_router())
        // Load shedding: at most `max_in_flight` requests are served at once
        // (one count for every route) and one more is refused at once.
        // Without it an overload queues every request behind the others and
        // latency grows for everyone until requests time out; with it only
        // the excess is refused.
        .route_layer(
            tower::ServiceBuilder::new()
                .layer(HandleErrorLayer::new(overloaded))
                .load_shed()
                .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
                    max_in_flight,
                )),
        )
        // Added after the shedding: health answers however busy the shop is.
        .route(&p("/_healthz"), any(handlers::misc::healthz));
    if !base.is_empty() {
        // The cookies are scoped to `{BASE_URL}/`, so the shop's root without
        // the slash would start a new session on every visit: send it home.
        routes = routes.route(&base, get(handlers::misc::to_home));
    }
    routes
        .route_layer(axum::middleware::from_fn(http_telemetry::record_route))
        .fallback(handlers::misc::not_found)
        // The timeout sits inside the request middleware, so a timed-out
        // request still gets the error page, the headers and a log line.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            REQUEST_TIMEOUT,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::request,
        ))
        // Outermost: every request is counted and traced, and the trace
        // context covers the other layers (so their log lines carry it).
        .layer(axum::middleware::from_fn_with_state(
            telemetry,
            http_telemetry::track,
        ))
        .with_state(state)
}

/// The answer to a request shed by the load shedding: a bare `503` with
/// `Retry-After: 1`, which the request middleware turns into the friendly
/// page or a problem document.
async fn overloaded(_: tower::BoxError) -> (StatusCode, [(header::HeaderName, &'static str); 1]) {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "1")],
    )
}
