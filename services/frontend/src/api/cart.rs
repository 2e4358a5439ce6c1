//! The caller's cart: `GET /api/v1/cart`, `POST /api/v1/cart/items`,
//! `DELETE /api/v1/cart`. It is the same cart the pages show (the guest
//! session's), priced by the cart page's rule, so it shows what checkout
//! will charge.

use axum::{
    Json,
    extract::{Query, State, rejection::QueryRejection},
    http::StatusCode,
};
use boutique_money::Money;
use futures::future::try_join_all;
use tonic::Code as GrpcCode;

use crate::{
    State as AppState,
    api::{
        caller::ApiCaller,
        extract::{self, ApiJson},
        problem::{ApiError, Code, FieldProblem},
        products::CurrencyParam,
        schema::{AddCartItem, Cart, CartLine, MoneyJson},
    },
    backends::{Backend, BackendError},
    handlers::cart_size,
    validate::{MAX_QUANTITY, is_product_id},
};

type QueryResult = Result<Query<Vec<(String, String)>>, QueryRejection>;

/// The cart, priced.
#[utoipa::path(
    get,
    path = "/api/v1/cart",
    tag = "cart",
    operation_id = "getCart",
    security((), ("bearer" = [])),
    params(CurrencyParam),
    responses(
        (status = 200, description = "The caller's cart (a client without a session cookie gets a new, empty one and the cookie).", body = Cart),
        (status = 401, description = "A bearer token was sent and it is malformed, expired, signed out or its account is gone (UNAUTHENTICATED).", body = crate::api::problem::Problem, content_type = "application/problem+json",
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"boutique\", error=\"invalid_token\"`."))),
        (status = 400, description = "A query that does not decode.", body = crate::api::problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "An unsupported currency.", body = crate::api::problem::Problem, content_type = "application/problem+json"),
        (status = 503, description = "A backend is not answering.", body = crate::api::problem::Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: ApiCaller,
    query: QueryResult,
) -> Result<Json<Cart>, ApiError> {
    let fields = extract::query(query)?;
    let currency = extract::currency(&state, &caller, &fields).await?;
    Ok(Json(priced_cart(&state, &caller, &currency).await?))
}

/// Add some of a product to the cart; answers the cart.
#[utoipa::path(
    post,
    path = "/api/v1/cart/items",
    tag = "cart",
    operation_id = "addCartItem",
    security((), ("bearer" = [])),
    params(CurrencyParam),
    request_body(content = AddCartItem, content_type = "application/json"),
    responses(
        (status = 200, description = "Added; the cart as it is now.", body = Cart),
        (status = 401, description = "A bearer token was sent and it is malformed, expired, signed out or its account is gone (UNAUTHENTICATED).", body = crate::api::problem::Problem, content_type = "application/problem+json",
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"boutique\", error=\"invalid_token\"`."))),
        (status = 400, description = "The body is not JSON, or the query does not decode.", body = crate::api::problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "A browser sent it from another site.", body = crate::api::problem::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large.", body = crate::api::problem::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not `application/json`.", body = crate::api::problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad field (quantity outside 1 to 10, a wrong type), an unknown product (UNKNOWN_PRODUCT), a full line (QUANTITY_LIMIT) or an unsupported currency.", body = crate::api::problem::Problem, content_type = "application/problem+json"),
        (status = 503, description = "A backend is not answering.", body = crate::api::problem::Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn add_item(
    State(state): State<AppState>,
    caller: ApiCaller,
    query: QueryResult,
    ApiJson(item): ApiJson<AddCartItem>,
) -> Result<Json<Cart>, ApiError> {
    let fields = extract::query(query)?;
    let quantity = check_item(&item)?;
    let currency = extract::currency(&state, &caller, &fields).await?;
    let backends = &state.backends;
    backends
        .get_product(&item.product_id)
        .await
        .map_err(|error| match &error {
            BackendError::Status {
                backend: Backend::Catalog,
                status,
            } if status.code() == GrpcCode::NotFound => ApiError::field(
                Code::UnknownProduct,
                "/product_id",
                "is not a product the catalog has",
            ),
            _ => error.into(),
        })?;
    backends
        .add_to_cart(caller.cart_id(), &item.product_id, quantity)
        .await
        .map_err(|error| match error.code() {
            // The cart caps how much of one product a line may hold.
            Some(
                GrpcCode::InvalidArgument | GrpcCode::OutOfRange | GrpcCode::FailedPrecondition,
            ) => ApiError::field(
                Code::QuantityLimit,
                "/quantity",
                "would put more of this product in the cart than can be sold at once",
            )
            .caused_by(error.to_string()),
            _ => error.into(),
        })?;
    Ok(Json(priced_cart(&state, &caller, &currency).await?))
}

/// Empty the cart.
#[utoipa::path(
    delete,
    path = "/api/v1/cart",
    tag = "cart",
    operation_id = "emptyCart",
    security((), ("bearer" = [])),
    responses(
        (status = 204, description = "The cart is empty."),
        (status = 401, description = "A bearer token was sent and it is malformed, expired, signed out or its account is gone (UNAUTHENTICATED).", body = crate::api::problem::Problem, content_type = "application/problem+json",
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"boutique\", error=\"invalid_token\"`."))),
        (status = 403, description = "A browser sent it from another site.", body = crate::api::problem::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The cart service is not answering.", body = crate::api::problem::Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn empty(
    State(state): State<AppState>,
    caller: ApiCaller,
) -> Result<StatusCode, ApiError> {
    state.backends.empty_cart(caller.cart_id()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The cart priced by the cart page's rule: each converted unit price and
/// the converted shipping rounded once to the currency's minor unit, a line
/// is unit × quantity, the total the exact sum.
async fn priced_cart(
    state: &AppState,
    caller: &ApiCaller,
    currency: &str,
) -> Result<Cart, ApiError> {
    let backends = &state.backends;
    let items = backends.cart(caller.cart_id()).await?;
    let round = |money: Money| {
        money
            .round_to_minor_unit()
            .map_err(|error| ApiError::internal(format!("cannot price the cart: {error}")))
    };
    let shipping = async {
        if items.is_empty() {
            return Money::zero(currency)
                .map_err(|error| ApiError::internal(format!("cannot price the cart: {error}")));
        }
        let quote = backends.shipping_quote(items.clone()).await?;
        round(backends.convert(Some(&quote), currency).await?)
    };
    let lines = try_join_all(items.iter().map(|item| async move {
        let product = backends
            .get_product(&item.product_id)
            .await
            .map_err(|error| {
                // A product the catalog forgot is our inconsistency, not a 404.
                if error.code() == Some(GrpcCode::NotFound) {
                    ApiError::internal(format!("the cart holds an unknown product: {error}"))
                } else {
                    error.into()
                }
            })?;
        let unit = round(
            backends
                .convert(product.price_usd.as_ref(), currency)
                .await?,
        )?;
        let line = unit
            .checked_mul(i64::from(item.quantity))
            .map_err(|error| ApiError::internal(format!("cannot price the cart: {error}")))?;
        Ok::<_, ApiError>((product, item.quantity, unit, line))
    }));
    let (shipping, lines) = tokio::try_join!(shipping, lines)?;
    let total = lines
        .iter()
        .try_fold(shipping.clone(), |total, (_, _, _, line)| {
            total.checked_add(line)
        })
        .map_err(|error| ApiError::internal(format!("cannot total the cart: {error}")))?;
    Ok(Cart {
        currency_code: currency.to_owned(),
        item_count: cart_size(&items),
        items: lines
            .iter()
            .map(|(product, quantity, unit, line)| CartLine {
                product_id: product.id.clone(),
                name: product.name.clone(),
                quantity: *quantity,
                unit_price: MoneyJson::from(unit),
                line_total: MoneyJson::from(line),
            })
            .collect(),
        shipping: MoneyJson::from(&shipping),
        total: MoneyJson::from(&total),
    })
}

/// The quantity of an item to add, once the item passes the pages' rules
/// (a product id, 1 to 10); else a 422 naming each bad field.
pub(crate) fn check_item(item: &AddCartItem) -> Result<i32, ApiError> {
    let mut errors = Vec::new();
    if !(1..=MAX_QUANTITY).contains(&item.quantity) {
        errors.push(FieldProblem {
            field: "/quantity".to_owned(),
            reason: format!("must be a whole number from 1 to {MAX_QUANTITY}"),
        });
    }
    if !is_product_id(&item.product_id) {
        errors.push(FieldProblem {
            field: "/product_id".to_owned(),
            reason: "is not a product id".to_owned(),
        });
    }
    match i32::try_from(item.quantity) {
        Ok(quantity) if errors.is_empty() => Ok(quantity),
        _ => Err(ApiError::fields(Code::ValidationFailed, errors)),
    }
}
