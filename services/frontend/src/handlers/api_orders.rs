//! The JSON order API, under `{BASE_URL}/api/`:
//!
//! - `GET /api/v1/orders` → `{"orders": [...], "next_page_token": ...}`
//!   (`?page_size=` 1 to 100, default 20; `?page_token=` from the previous
//!   page; the token is `null` on the last page);
//! - `GET /api/v1/orders/{id}` → one order;
//! - `GET /api/orders` → the same list as a bare array, with the next page in
//!   a `Link: <...>; rel="next"` header (TechCommerce's smoke test reads it
//!   with curl).
//!
//! The owner rule is the pages' ([`crate::orders`]): the session's orders
//! only, and another session's order is a 404 like an unknown id. Failures
//! are the crate's one [`AppError`]; under `/api/` the request middleware
//! renders them as RFC 9457 `application/problem+json` documents (see
//! [`crate::problem`]), so a client mistake is a 4xx problem and an orders
//! outage a 503 one. Money is never a float: `units` and `nanos` as the
//! services carry them, and `display`, the shop's formatted text.
//!
//! Kept apart from the pages so that the REST API can grow here.

use axum::{
    Extension, Json,
    extract::{
        Path, Query, State,
        rejection::{PathRejection, QueryRejection},
    },
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use boutique_money::{Money, format_price};
use boutique_proto::boutique::orders::v1::{ListOrdersResponse, Order};
use serde::Serialize;

use crate::{
    State as AppState,
    ctx::Ctx,
    error::AppError,
    handlers::query_fields,
    orders::{self, money, query_value, rfc3339, state_name, state_of, utc},
    validate::{self, OrdersPage},
};

/// An amount: exact parts plus the text the pages show.
#[derive(Debug, Serialize)]
pub(crate) struct MoneyJson {
    currency_code: String,
    units: i64,
    nanos: i32,
    /// `€17.68`, as [`format_price`] writes it.
    display: String,
}

impl From<&Money> for MoneyJson {
    fn from(money: &Money) -> Self {
        Self {
            currency_code: money.currency_code().to_owned(),
            units: money.units(),
            nanos: money.nanos(),
            display: format_price(money),
        }
    }
}

/// One line of an order.
#[derive(Debug, Serialize)]
pub(crate) struct ItemJson {
    product_id: String,
    quantity: i32,
    unit_cost: MoneyJson,
}

/// Where an order goes.
#[derive(Debug, Serialize)]
pub(crate) struct AddressJson {
    street_address: String,
    city: String,
    state: String,
    country: String,
    zip_code: i32,
}

/// One state an order reached.
#[derive(Debug, Serialize)]
pub(crate) struct ChangeJson {
    state: &'static str,
    /// RFC 3339, UTC.
    at: String,
    /// Why, when the move had a reason; `null` otherwise.
    note: Option<String>,
}

/// An order. Neither its owner nor its cart id is here: both are the
/// shopper's session id, which is never shown.
#[derive(Debug, Serialize)]
pub(crate) struct OrderJson {
    id: String,
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
#[derive(Debug, Serialize)]
pub(crate) struct OrdersJson {
    orders: Vec<OrderJson>,
    /// Pass it as `page_token` for the next page; `null` on the last page.
    next_page_token: Option<String>,
}

/// `GET /api/v1/orders`.
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<OrdersJson>, AppError> {
    let (_, listed) = page(&state, &ctx, query).await?;
    Ok(Json(OrdersJson {
        orders: listed
            .orders
            .into_iter()
            .map(order_json)
            .collect::<Result<_, _>>()?,
        next_page_token: Some(listed.next_page_token).filter(|token| !token.is_empty()),
    }))
}

/// `GET /api/orders`: the list as a bare array; the next page, if any, in
/// the `Link` header.
pub(crate) async fn list_bare(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, AppError> {
    let (asked, listed) = page(&state, &ctx, query).await?;
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

/// `GET /api/v1/orders/{id}`.
pub(crate) async fn get(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<OrderJson>, AppError> {
    let Ok(Path(id)) = id else {
        return Err(AppError::NotFound);
    };
    let order = orders::owned(&state, &ctx, &id).await?;
    Ok(Json(order_json(order)?))
}

/// The page the query asks for, and the session's orders on it.
async fn page(
    state: &AppState,
    ctx: &Ctx,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<(OrdersPage, ListOrdersResponse), AppError> {
    let fields = query_fields(query)?;
    let asked = validate::orders_page(&fields).map_err(AppError::BadQuery)?;
    let listed = orders::list(state, ctx, &asked).await?;
    Ok((asked, listed))
}

fn order_json(order: Order) -> Result<OrderJson, AppError> {
    let amount = |amount| money(amount).map(|money| money.as_ref().map(MoneyJson::from));
    let items = order
        .lines
        .into_iter()
        .map(|line| {
            let unit = money(line.unit_cost.as_ref())?
                .ok_or_else(|| AppError::Internal("an order line has no cost".to_owned()))?;
            Ok(ItemJson {
                product_id: line.product_id,
                quantity: line.quantity,
                unit_cost: MoneyJson::from(&unit),
            })
        })
        .collect::<Result<_, AppError>>()?;
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
        .collect::<Result<_, AppError>>()?;
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
            zip_code: address.zip_code,
        }),
        history,
        warnings: order.warnings,
        id: order.id,
    })
}
