//! The public JSON REST API, under `{BASE_URL}/api/v1` (plus TechCommerce's
//! bare lists `/api/products` and `/api/orders`, and `/health`), described by
//! an OpenAPI 3.1 document generated from this code.
//!
//! - **One table.** [`routes`] registers every operation and records its
//!   method and path; the document ([`ApiDoc`], from each handler's
//!   `#[utoipa::path]`) must list exactly the same operations, which a test
//!   checks in both directions.
//! - **Identity** is resolved in one extractor, [`caller::ApiCaller`]: a
//!   bearer token (`Authorization: Bearer`, from `POST /api/v1/sessions`),
//!   checked with the accounts service on every request (401 when it no
//!   longer works), else the pages' account cookie, else the guest session
//!   (minted like the pages' when a client has no cookie). Operations that
//!   need an account (`/accounts/me`, `/sessions/current`, `/ratings/mine`)
//!   answer a guest 401 with a `WWW-Authenticate: Bearer` challenge.
//! - **Errors** are RFC 9457 problem documents of one shape with a stable
//!   `code` ([`problem`]), also for axum's own rejections (bodies, queries,
//!   unknown paths, wrong methods), which the handlers read through
//!   [`extract`].
//! - **Money** is `{"currency_code", "units", "nanos", "display"}`, never a
//!   float ([`schema::MoneyJson`]); prices are in `?currency=` (default: the
//!   session's currency cookie, else USD; an unsupported code is a 422).
//! - **Cross-site writes** cannot happen: a body must be
//!   `Content-Type: application/json`, which an HTML form cannot send and a
//!   cross-site `fetch` cannot send without a CORS preflight that this API
//!   never grants (it answers no `OPTIONS`); `DELETE` needs the same
//!   preflight; and the request middleware's cross-site refusal (`Origin`,
//!   `Sec-Fetch-Site`) covers every unsafe method here as on the pages.

pub(crate) mod accounts;
pub(crate) mod caller;
pub(crate) mod cart;
pub(crate) mod checkout;
pub(crate) mod docs;
pub(crate) mod extract;
mod orders;
pub(crate) mod problem;
mod products;
pub(crate) mod ratings;
pub(crate) mod schema;

use axum::{
    Router,
    extract::DefaultBodyLimit,
    handler::Handler,
    http::Method,
    routing::{MethodFilter, on},
};
use utoipa::{
    Modify, OpenApi,
    openapi::security::{Http, HttpAuthScheme, SecurityScheme},
};

use crate::State as AppState;

/// The OpenAPI document's static part: every operation and schema.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Boutique REST API",
        description = "The shop's public JSON API: products and their ratings, the caller's cart, \
            checkout and orders, accounts. Callers are guest sessions (the `shop_session-id` cookie, \
            set on the first answer) or accounts (`Authorization: Bearer <token>`, the token from \
            `POST /api/v1/sessions` or `POST /api/v1/accounts`). Errors are RFC 9457 problem \
            documents; money is never a float."
    ),
    modifiers(&BearerScheme),
    paths(
        products::list,
        products::get,
        products::currencies,
        products::list_bare,
        ratings::list,
        ratings::put,
        ratings::delete,
        cart::get,
        cart::add_item,
        cart::empty,
        checkout::place,
        orders::list,
        orders::get,
        orders::list_bare,
        accounts::sign_up,
        accounts::sign_in,
        accounts::sign_out,
        accounts::me,
        docs::health,
        docs::openapi,
        docs::page,
    ),
    components(schemas(problem::Problem, problem::FieldProblem)),
    tags(
        (name = "products", description = "The catalog, priced in the currency asked for."),
        (name = "cart", description = "The caller's cart."),
        (name = "checkout", description = "Placing an order."),
        (name = "orders", description = "The caller's orders."),
        (name = "ratings", description = "Products' ratings and reviews; the signed-in caller's own rating."),
        (name = "accounts", description = "Signing up, in and out; the signed-in account."),
        (name = "meta", description = "Health and this description."),
    )
)]
pub(crate) struct ApiDoc;

/// The `bearer` security scheme the operations name.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.bearer_format = Some("JWT".to_owned());
        scheme.description = Some(
            "A token from POST /api/v1/sessions or POST /api/v1/accounts, checked with the \
             accounts service on every request."
                .to_owned(),
        );
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// The document for a shop under `base` (`BASE_URL`): its server is that
/// prefix, so the paths are the same everywhere.
pub(crate) fn document(base: &str) -> utoipa::openapi::OpenApi {
    let mut document = ApiDoc::openapi();
    document.info.version = "1".to_owned();
    let server = if base.is_empty() { "/" } else { base };
    document.servers = Some(vec![utoipa::openapi::Server::new(server)]);
    document
}

/// The API's routes, registered and recorded at once.
pub(crate) struct Routes {
    base: String,
    router: Router<AppState>,
    table: Vec<(Method, &'static str)>,
}

impl Routes {
    fn add<H, T>(mut self, method: Method, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        // Every method used below is one axum filters on.
        let filter = MethodFilter::try_from(method.clone()).unwrap_or(MethodFilter::GET);
        self.router = self
            .router
            .route(&format!("{}{path}", self.base), on(filter, handler));
        self.table.push((method, path));
        self
    }

    /// The router, for merging into the storefront's.
    pub(crate) fn into_router(self) -> Router<AppState> {
        self.router
            .layer(DefaultBodyLimit::max(extract::MAX_BODY_BYTES))
    }

    /// Every operation: method and path (without `BASE_URL`).
    pub(crate) fn table(&self) -> &[(Method, &'static str)] {
        &self.table
    }
}

/// Every operation of the API under `base`.
pub(crate) fn routes(base: &str) -> Routes {
    Routes {
        base: base.to_owned(),
        router: Router::new(),
        table: Vec::new(),
    }
    .add(Method::GET, "/api/v1/products", products::list)
    .add(Method::GET, "/api/v1/products/{id}", products::get)
    .add(Method::GET, "/api/v1/currencies", products::currencies)
    .add(Method::GET, "/api/v1/products/{id}/ratings", ratings::list)
    .add(
        Method::PUT,
        "/api/v1/products/{id}/ratings/mine",
        ratings::put,
    )
    .add(
        Method::DELETE,
        "/api/v1/products/{id}/ratings/mine",
        ratings::delete,
    )
    .add(Method::GET, "/api/products", products::list_bare)
    .add(Method::GET, "/api/v1/cart", cart::get)
    .add(Method::DELETE, "/api/v1/cart", cart::empty)
    .add(Method::POST, "/api/v1/cart/items", cart::add_item)
    .add(Method::POST, "/api/v1/checkout", checkout::place)
    .add(Method::GET, "/api/v1/orders", orders::list)
    .add(Method::GET, "/api/v1/orders/{id}", orders::get)
    .add(Method::GET, "/api/orders", orders::list_bare)
    .add(Method::POST, "/api/v1/accounts", accounts::sign_up)
    .add(Method::GET, "/api/v1/accounts/me", accounts::me)
    .add(Method::POST, "/api/v1/sessions", accounts::sign_in)
    .add(
        Method::DELETE,
        "/api/v1/sessions/current",
        accounts::sign_out,
    )
    .add(Method::GET, "/health", docs::health)
    .add(Method::GET, "/api/v1/openapi.json", docs::openapi)
    .add(Method::GET, "/api/v1/docs", docs::page)
}

/// True for the API's paths that need no session: health and the API's
/// description, like `/_healthz` (no cookie is minted for them).
pub(crate) fn is_sessionless(rest: &str) -> bool {
    matches!(rest, "/health" | "/api/v1/openapi.json" | "/api/v1/docs")
}

/// True for paths whose errors are problem documents.
pub(crate) fn is_api(rest: &str) -> bool {
    rest.starts_with("/api/") || rest == "/health"
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// No drift: the router and the document list the same operations.
    #[test]
    fn the_document_lists_exactly_the_routed_operations() {
        let routed: BTreeSet<(String, String)> = routes("")
            .table()
            .iter()
            .map(|(method, path)| (method.as_str().to_ascii_lowercase(), (*path).to_owned()))
            .collect();
        let document = serde_json::to_value(document("")).unwrap();
        let mut documented = BTreeSet::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, _) in item.as_object().unwrap() {
                documented.insert((method.clone(), path.clone()));
            }
        }
        assert_eq!(routed, documented);
        assert_eq!(document["openapi"], "3.1.0");
    }
}
