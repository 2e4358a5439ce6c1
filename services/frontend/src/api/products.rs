//! Products and currencies: `GET /api/v1/products` (paged, `?q=` search),
//! `GET /api/v1/products/{id}`, `GET /api/v1/currencies`, and TechCommerce's
//! bare list, `GET /api/products`.

use axum::{
    Json,
    extract::{Path, Query, State, rejection::QueryRejection},
};
use boutique_money::Money;
use boutique_proto::Product;
use futures::future::try_join_all;

use crate::{
    State as AppState,
    api::{
        caller::ApiCaller,
        extract::{self, MAX_QUERY_LEN, Page},
        problem::{ApiError, Code},
        ratings,
        schema::{Currencies, ProductJson, ProductPage},
    },
    validate::is_product_id,
};

type QueryResult = Result<Query<Vec<(String, String)>>, QueryRejection>;

/// List products, a page at a time; `?q=` searches names and descriptions.
#[utoipa::path(
    get,
    path = "/api/v1/products",
    tag = "products",
    operation_id = "listProducts",
    security((), ("bearer" = [])),
    params(
        ("q" = Option<String>, Query, description = "Search text (case-insensitive, in names and descriptions); empty lists every product.", max_length = 100),
        ("page_size" = Option<u32>, Query, description = "Products per page, 1 to 100 (default 20).", minimum = 1, maximum = 100),
        ("page_token" = Option<String>, Query, description = "The `next_page_token` of the previous page."),
        CurrencyParam,
    ),
    responses(
        (status = 200, description = "A page of products, in catalog order.", body = ProductPage),
        (status = 401, description = "A bearer token was sent and it is malformed, expired, signed out or its account is gone (UNAUTHENTICATED).", body = crate::api::problem::Problem, content_type = "application/problem+json",
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"boutique\", error=\"invalid_token\"`."))),
        (status = 400, description = "A bad `page_size`, `page_token` or `q`.", body = crate::api::problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "An unsupported currency.", body = crate::api::problem::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The catalog or currency service is not answering.", body = crate::api::problem::Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    query: QueryResult,
) -> Result<Json<ProductPage>, ApiError> {
    let fields = extract::query(query)?;
    let page = Page::from_fields(&fields)?;
    let search = fields.get("q").trim();
    if search.chars().count() > MAX_QUERY_LEN {
        return Err(ApiError::field(
            Code::InvalidParameter,
            "q",
            format!("may be at most {MAX_QUERY_LEN} characters"),
        ));
    }
    let currency = extract::currency(&state, &caller, &fields).await?;
    let found;
    let products: &[Product] = if search.is_empty() {
        found = state.backends.list_products().await?.to_vec();
        &found
    } else {
        found = state.backends.search_products(search).await?;
        &found
    };
    let (shown, next_page_token) = page.slice(products);
    Ok(Json(ProductPage {
        products: priced(&state, shown, &currency).await?,
        next_page_token,
    }))
}

/// Every product as a bare JSON array (TechCommerce's smoke test).
#[utoipa::path(
    get,
    path = "/api/products",
    tag = "products",
    operation_id = "listProductsBare",
    security((), ("bearer" = [])),
    params(CurrencyParam),
    responses(
        (status = 200, description = "Every product, in catalog order.", body = Vec<ProductJson>),
        (status = 401, description = "A bearer token was sent and it is malformed, expired, signed out or its account is gone (UNAUTHENTICATED).", body = crate::api::problem::Problem, content_type = "application/problem+json",
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"boutique\", error=\"invalid_token\"`."))),
        (status = 400, description = "A query that does not decode.", body = crate::api::problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "An unsupported currency.", body = crate::api::problem::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The catalog or currency service is not answering.", body = crate::api::problem::Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list_bare(
    State(state): State<AppState>,
    caller: ApiCaller,
    query: QueryResult,
) -> Result<Json<Vec<ProductJson>>, ApiError> {
    let fields = extract::query(query)?;
    let currency = extract::currency(&state, &caller, &fields).await?;
    let products = state.backends.list_products().await?;
    Ok(Json(priced(&state, &products, &currency).await?))
}

/// One product.
#[utoipa::path(
    get,
    path = "/api/v1/products/{id}",
    tag = "products",
    operation_id = "getProduct",
    security((), ("bearer" = [])),
    params(
        ("id" = String, Path, description = "The product's id.", example = "OLJCESPC7Z"),
        CurrencyParam,
    ),
    responses(
        (status = 200, description = "The product, with its ratings' count and average (`rating`, `null` when the ratings service does not answer in time).", body = ProductJson),
        (status = 401, description = "A bearer token was sent and it is malformed, expired, signed out or its account is gone (UNAUTHENTICATED).", body = crate::api::problem::Problem, content_type = "application/problem+json",
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"boutique\", error=\"invalid_token\"`."))),
        (status = 400, description = "A query that does not decode.", body = crate::api::problem::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product.", body = crate::api::problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "An unsupported currency.", body = crate::api::problem::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The catalog or currency service is not answering.", body = crate::api::problem::Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    query: QueryResult,
) -> Result<Json<ProductJson>, ApiError> {
    let fields = extract::query(query)?;
    if !is_product_id(&id) {
        return Err(ApiError::new(Code::NotFound, "no product has this id"));
    }
    let currency = extract::currency(&state, &caller, &fields).await?;
    let product = state.backends.get_product(&id).await?;
    let mut priced = priced(&state, std::slice::from_ref(&product), &currency).await?;
    priced
        .pop()
        .map(Json)
        .ok_or_else(|| ApiError::internal("a priced product went missing"))
}

/// The currencies prices can be asked in.
#[utoipa::path(
    get,
    path = "/api/v1/currencies",
    tag = "products",
    operation_id = "listCurrencies",
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "Every supported currency.", body = Currencies),
        (status = 401, description = "A bearer token was sent and it is malformed, expired, signed out or its account is gone (UNAUTHENTICATED).", body = crate::api::problem::Problem, content_type = "application/problem+json",
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"boutique\", error=\"invalid_token\"`."))),
        (status = 503, description = "The currency service is not answering.", body = crate::api::problem::Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn currencies(
    State(state): State<AppState>,
    caller: ApiCaller,
) -> Result<Json<Currencies>, ApiError> {
    let supported = state.backends.supported_currencies().await?;
    Ok(Json(Currencies {
        currency_codes: supported.to_vec(),
        default: caller.currency().to_owned(),
    }))
}

/// Products with their prices in `currency`, each converted (the currency
/// service is the only authority on rates) and rounded to the currency's
/// minor unit as the cart and checkout round it, so the price shown is the
/// price charged.
async fn priced(
    state: &AppState,
    products: &[Product],
    currency: &str,
) -> Result<Vec<ProductJson>, ApiError> {
    let base = &state.config.base_url;
    let ids: Vec<&str> = products.iter().map(|product| product.id.as_str()).collect();
    let prices = try_join_all(products.iter().map(|product| async move {
        let price: Money = state
            .backends
            .convert(product.price_usd.as_ref(), currency)
            .await?
            .round_to_minor_unit()
            .map_err(|error| ApiError::internal(format!("cannot round a price: {error}")))?;
        Ok::<_, ApiError>(ProductJson::new(base, product, &price))
    }));
    // One summaries call for the whole page, beside the prices.
    let (priced, summaries) = tokio::join!(prices, ratings::summaries(state, &ids));
    let mut priced = priced?;
    if let Some(summaries) = summaries {
        for product in &mut priced {
            product.rating = summaries.get(&product.id).cloned();
        }
    }
    Ok(priced)
}

/// `?currency=`, shared by every priced operation.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct CurrencyParam {
    /// The ISO 4217 code to price in (one `GET /api/v1/currencies` lists);
    /// default: the session's currency cookie, else USD.
    #[param(example = "EUR", pattern = "^[A-Z]{3}$")]
    #[allow(dead_code)] // Read by `extract::currency`; this type only documents it.
    currency: Option<String>,
}
