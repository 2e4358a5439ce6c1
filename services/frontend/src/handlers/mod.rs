//! Route handlers, one module per page, plus what several of them share.

pub(crate) mod account;
pub(crate) mod assistant;
pub(crate) mod cart;
pub(crate) mod checkout;
pub(crate) mod home;
pub(crate) mod misc;
pub(crate) mod orders;
pub(crate) mod product;

use axum::{
    Form, Json,
    extract::{
        Query,
        rejection::{FormRejection, QueryRejection},
    },
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use boutique_proto::{CartItem, Product};
use futures::future::try_join_all;

use crate::{
    State,
    backends::BackendError,
    ctx::Ctx,
    error::AppError,
    validate::{FieldError, Fields, is_product_id},
    views::ProductCard,
};

/// How many recommendations a page shows (upstream: the first 4 of up to 5).
pub(crate) const MAX_RECOMMENDATIONS: usize = 4;

/// A submitted urlencoded form. A body of another type reads as an empty form,
/// as upstream, so the shopper gets the usual 422 naming the missing fields.
pub(crate) fn form_fields(
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Fields, AppError> {
    match form {
        Ok(Form(pairs)) => Ok(Fields::new(pairs)),
        Err(FormRejection::InvalidFormContentType(_)) => Ok(Fields::default()),
        Err(rejection) => Err(AppError::BadForm(rejection.body_text())),
    }
}

/// The query string of one of our own routes. One that does not decode (a
/// bad percent escape) is the client's mistake, a 400 like any bad parameter.
pub(crate) fn query_fields(
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Fields, AppError> {
    match query {
        Ok(Query(pairs)) => Ok(Fields::new(pairs)),
        Err(_) => Err(AppError::BadQuery(vec![FieldError {
            field: "query",
            reason: "cannot be decoded",
        }])),
    }
}

/// A `302 Found` to a path of ours, as upstream (axum's `Redirect::to` is a 303).
pub(crate) fn found(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::FOUND, [(header::LOCATION, value)]).into_response(),
        Err(_) => {
            AppError::Internal(format!("unusable redirect target {location:?}")).into_response()
        }
    }
}

/// A JSON error, `{"error": message}`, for the routes that answer JSON.
pub(crate) fn json_error(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

/// The cart badge: the sum of quantities.
pub(crate) fn cart_size(items: &[CartItem]) -> i64 {
    items.iter().map(|item| i64::from(item.quantity)).sum()
}

/// The badge of a page that does not need the cart otherwise: its size, or
/// none (the badge hidden) when the cart service does not answer.
pub(crate) fn badge(cart: Result<Vec<CartItem>, BackendError>) -> Option<i64> {
    match cart {
        Ok(items) => Some(cart_size(&items)),
        Err(error) => {
            tracing::warn!(error = %error, "No cart; the page hides its badge.");
            None
        }
    }
}

/// Recommendations as cards (no prices), or none at all: they are a nicety,
/// so any failure, here or in fetching a recommended product, drops the
/// section and is only logged (as upstream).
pub(crate) async fn recommended_cards(
    state: &State,
    ctx: &Ctx,
    for_products: Vec<String>,
) -> Vec<ProductCard> {
    let backends = &state.backends;
    let ids = match backends
        .recommendations(ctx.shopper_id(), for_products)
        .await
    {
        Ok(ids) => ids,
        Err(error) => {
            tracing::warn!(error = %error, "No recommendations for this page.");
            return Vec::new();
        }
    };
    let wanted = ids
        .iter()
        .filter(|id| is_product_id(id))
        .take(MAX_RECOMMENDATIONS)
        .map(|id| backends.get_product(id));
    match try_join_all(wanted).await {
        Ok(products) => cards(&state.config.base_url, &products),
        Err(error) => {
            tracing::warn!(error = %error, "Cannot show the recommended products.");
            Vec::new()
        }
    }
}

/// Cards without prices.
pub(crate) fn cards(base: &str, products: &[Product]) -> Vec<ProductCard> {
    products
        .iter()
        .map(|product| ProductCard::new(base, product, String::new()))
        .collect()
}
