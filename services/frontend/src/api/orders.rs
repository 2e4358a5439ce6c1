//! The caller's orders: `GET /api/v1/orders` → `{"orders": [...],
//! "next_page_token": ...}` (`?page_size=` 1 to 100, default 20;
//! `?page_token=` from the previous page; `null` on the last page),
//! `GET /api/v1/orders/{id}` → one order, and TechCommerce's
//! `GET /api/orders` → the same list as a bare array with the next page in a
//! `Link: <...>; rel="next"` header.
//!
//! The owner rule is the pages' ([`crate::orders`]): the caller's orders
//! only, and another caller's order is a 404 like an unknown id. Only these
//! operations call the orders service, so its outage is a 503 here and
//! nowhere else.

use axum::{
    Json,
    extract::{
        Path, Query, State,
        rejection::{PathRejection, QueryRejection},
    },
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use boutique_proto::boutique::orders::v1::{ListOrdersResponse, Order};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    State as AppState,
    api::{
        caller::ApiCaller,
        extract,
        problem::{ApiError, Problem},
        schema::{AddressJson, MoneyJson},
    },
    orders::{self, money, query_value, rfc3339, state_name, state_of, utc},
    validate::{self, OrdersPage},
};

/// One line of an order.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = OrderLine)]
pub(crate) struct ItemJson {
    product_id: String,
    quantity: i32,
    unit_cost: MoneyJson,
}

/// One state an order reached.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = OrderChange)]
pub(crate) struct ChangeJson {
    #[schema(value_type = String, example = "shipped")]
    state: &'static str,
    /// RFC 3339, UTC.
    at: String,
    /// Why, when the move had a reason; `null` otherwise.
    note: Option<String>,
}

/// An order. Neither its owner nor its cart id is here: both are the
/// shopper's session id, which is never shown.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Order)]
pub(crate) struct OrderJson {
    id: String,
    /// created, charged, shipped, dispatched, delivered, declined, failed,
    /// payment_uncertain or needs_attention.
    #[schema(value_type = String, example = "shipped")]
    state: &'static str,
    created_at: String,
    updated_at: String,
    items: Vec<ItemJson>,
    /// `null` until the order is priced.
    shipping_cost: Option<MoneyJson>,
    /// `null` until the order is priced.
    total: Option<MoneyJson>,
    /// `null` until it ships.
    tracking_id: Option<String>,
    /// `null` until the card is charged.
    transaction_id: Option<String>,
    shipping_address: Option<AddressJson>,
    /// Oldest first.
    history: Vec<ChangeJson>,
    warnings: Vec<String>,
}

/// A page of orders.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = OrderPage)]
pub(crate) struct OrdersJson {
    orders: Vec<OrderJson>,
    /// Pass it as `page_token` for the next page; `null` on the last page.
    next_page_token: Option<String>,
}

/// The caller's orders, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/orders",
    tag = "orders",
    operation_id = "listOrders",
    security((), ("bearer" = [])),
    params(
        ("page_size" = Option<u32>, Query, description = "Orders per page, 1 to 100 (default 20).", minimum = 1, maximum = 100),
        ("page_token" = Option<String>, Query, description = "The `next_page_token` of the previous page."),
    ),
    responses(
        (status = 200, description = "A page of orders.", body = OrdersJson),
        (status = 401, description = "A bearer token was sent and it is malformed, expired, signed out or its account is gone (UNAUTHENTICATED).", body = crate::api::problem::Problem, content_type = "application/problem+json",
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"boutique\", error=\"invalid_token\"`."))),
        (status = 400, description = "A bad `page_size` or `page_token`.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The orders service is not answering.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<OrdersJson>, ApiError> {
    let (_, listed) = page(&state, &caller, query).await?;
    Ok(Json(OrdersJson {
        orders: listed
            .orders
            .into_iter()
            .map(order_json)
            .collect::<Result<_, _>>()?,
        next_page_token: Some(listed.next_page_token).filter(|token| !token.is_empty()),
    }))
}

/// The caller's orders as a bare array (TechCommerce's smoke test); the
/// next page, if any, in the `Link` header.
#[utoipa::path(
    get,
    path = "/api/orders",
    tag = "orders",
    operation_id = "listOrdersBare",
    security((), ("bearer" = [])),
    params(
        ("page_size" = Option<u32>, Query, description = "Orders per page, 1 to 100 (default 20).", minimum = 1, maximum = 100),
        ("page_token" = Option<String>, Query, description = "From the previous page's `Link`."),
    ),
    responses(
        (status = 200, description = "A page of orders, newest first.", body = Vec<OrderJson>,
            headers(("Link" = String, description = "`<...>; rel=\"next\"` when there are more."))),
        (status = 401, description = "A bearer token was sent and it is malformed, expired, signed out or its account is gone (UNAUTHENTICATED).", body = crate::api::problem::Problem, content_type = "application/problem+json",
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"boutique\", error=\"invalid_token\"`."))),
        (status = 400, description = "A bad `page_size` or `page_token`.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The orders service is not answering.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list_bare(
    State(state): State<AppState>,
    caller: ApiCaller,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (asked, listed) = page(&state, &caller, query).await?;
    let next = (!listed.next_page_token.is_empty()).then(|| {
        format!(
            "<{}/api/orders?page_size={}&page_token={}>; rel=\"next\"",
            state.config.base_url,
            asked.page_size,
            query_value(&listed.next_page_token)
        )
    });
    let orders: Vec<OrderJson> = listed
        .orders
        .into_iter()
        .map(order_json)
        .collect::<Result<_, _>>()?;
    let mut response = Json(orders).into_response();
    if let Some(link) = next.and_then(|link| HeaderValue::try_from(link).ok()) {
        response.headers_mut().insert(header::LINK, link);
    }
    Ok(response)
}

/// One of the caller's orders.
#[utoipa::path(
    get,
    path = "/api/v1/orders/{id}",
    tag = "orders",
    operation_id = "getOrder",
    security((), ("bearer" = [])),
    params(("id" = String, Path, description = "The order's id (a UUID).")),
    responses(
        (status = 200, description = "The order, with its timeline.", body = OrderJson),
        (status = 401, description = "A bearer token was sent and it is malformed, expired, signed out or its account is gone (UNAUTHENTICATED).", body = crate::api::problem::Problem, content_type = "application/problem+json",
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"boutique\", error=\"invalid_token\"`."))),
        (status = 404, description = "No such order, or another caller's.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The orders service is not answering.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: ApiCaller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<OrderJson>, ApiError> {
    let Ok(Path(id)) = id else {
        return Err(ApiError::new(crate::api::problem::Code::NotFound, ""));
    };
    let order = orders::owned(&state, caller.owner(), &id).await?;
    Ok(Json(order_json(order)?))
}

/// The page the query asks for, and the session's orders on it.
async fn page(
    state: &AppState,
    caller: &ApiCaller,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<(OrdersPage, ListOrdersResponse), ApiError> {
    let fields = extract::query(query)?;
    let asked = validate::orders_page(&fields).map_err(crate::error::AppError::BadQuery)?;
    let listed = orders::list(state, caller.owner(), &asked).await?;
    Ok((asked, listed))
}

fn order_json(order: Order) -> Result<OrderJson, ApiError> {
    let amount = |amount| money(amount).map(|money| money.as_ref().map(MoneyJson::from));
    let items = order
        .lines
        .into_iter()
        .map(|line| {
            let unit = money(line.unit_cost.as_ref())?
                .ok_or_else(|| ApiError::internal("an order line has no cost"))?;
            Ok(ItemJson {
                product_id: line.product_id,
                quantity: line.quantity,
                unit_cost: MoneyJson::from(&unit),
            })
        })
        .collect::<Result<_, ApiError>>()?;
    let history = order
        .history
        .into_iter()
        .map(|change| {
            Ok(ChangeJson {
                state: state_name(state_of(change.state)),
                at: rfc3339(utc(change.at_ms)?),
                note: Some(change.note).filter(|note| !note.is_empty()),
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(OrderJson {
        state: state_name(state_of(order.state)),
        created_at: rfc3339(utc(order.created_at_ms)?),
        updated_at: rfc3339(utc(order.updated_at_ms)?),
        items,
        shipping_cost: amount(order.shipping_cost.as_ref())?,
        total: amount(order.total.as_ref())?,
        tracking_id: Some(order.tracking_id).filter(|id| !id.is_empty()),
        transaction_id: Some(order.transaction_id).filter(|id| !id.is_empty()),
        shipping_address: order.shipping_address.map(|address| AddressJson {
            street_address: address.street_address,
            city: address.city,
            state: address.state,
            country: address.country,
            zip_code: i64::from(address.zip_code),
        }),
        history,
        warnings: order.warnings,
        id: order.id,
    })
}
