//! `GET {BASE_URL}/orders` (the session's orders, a page at a time) and
//! `GET {BASE_URL}/orders/{id}` (one of them in full, with its timeline).
//!
//! Both need only the orders service: the header shows neither the currency
//! switcher nor the cart badge, and the order page takes product names and
//! pictures from the (cached) catalog when it answers and shows ids when it
//! does not. So an outage elsewhere does not hide a shopper's orders, and an
//! orders outage is a 503 page here and nowhere else.

use std::collections::HashMap;

use askama::Template;
use axum::{
    Extension,
    extract::{
        Path, Query, State,
        rejection::{PathRejection, QueryRejection},
    },
    response::Html,
};
use boutique_money::format_price;
use boutique_proto::{Address, Product};

use crate::{
    State as AppState,
    ctx::Ctx,
    error::AppError,
    handlers::query_fields,
    orders::{
        self, display_date, display_time, item_count, money, query_value, rfc3339, state_label,
        state_name, state_of, utc,
    },
    validate::{self, DEFAULT_PAGE_SIZE},
    views::{
        Chrome, OrderDetailPage, OrderLine, OrderStateView, OrderSummary, OrdersPage,
        TimelineEntry, picture_url,
    },
};

/// The list, [`DEFAULT_PAGE_SIZE`] orders a page, newest first, with a
/// "More orders" link while more follow. Only `page_token` is read: the page
/// size is the page's own.
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Html<String>, AppError> {
    let fields = query_fields(query)?;
    let page_token = validate::page_token(&fields).map_err(|e| AppError::BadQuery(vec![e]))?;
    let page = validate::OrdersPage {
        page_size: DEFAULT_PAGE_SIZE,
        page_token,
    };
    let listed = orders::list(&state, ctx.shopper_id(), &page).await?;
    let summaries = listed
        .orders
        .iter()
        .map(|order| {
            let placed = utc(order.created_at_ms)?;
            let total = money(order.total.as_ref())?;
            Ok(OrderSummary {
                short_id: order.id.split('-').next().unwrap_or_default().to_owned(),
                id: order.id.clone(),
                date: display_date(placed),
                datetime: rfc3339(placed),
                state: state_view(order.state),
                item_count: item_count(order),
                total: total.as_ref().map(format_price).unwrap_or_default(),
            })
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    let base = &state.config.base_url;
    let next_page = (!listed.next_page_token.is_empty()).then(|| {
        format!(
            "{base}/orders?page_token={}",
            query_value(&listed.next_page_token)
        )
    });
    let view = OrdersPage {
        chrome: Chrome::new(&state, &ctx, "Your orders", &[], None),
        orders: summaries,
        next_page,
        later_page: !page.page_token.is_empty(),
    };
    Ok(Html(view.render()?))
}

/// One order, if the session owns it (404 otherwise, as for an unknown id).
pub(crate) async fn detail(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Html<String>, AppError> {
    // A path that does not even decode names no order.
    let Ok(Path(id)) = id else {
        return Err(AppError::NotFound);
    };
    let base = &state.config.base_url;
    // The catalog is asked alongside (usually from its cache): its names and
    // pictures are a nicety, so its failure only thins the page.
    let (order, products) = tokio::join!(
        orders::owned(&state, ctx.shopper_id(), &id),
        state.backends.list_products()
    );
    let order = order?;
    let catalog: HashMap<&str, &Product> = match &products {
        Ok(products) => products
            .iter()
            .map(|product| (product.id.as_str(), product))
            .collect(),
        Err(error) => {
            tracing::warn!(error = %error, "Order page without product details.");
            HashMap::new()
        }
    };
    let lines = order
        .lines
        .iter()
        .map(|line| {
            let unit = money(line.unit_cost.as_ref())?
                .ok_or_else(|| AppError::Internal("an order line has no cost".to_owned()))?;
            let price = unit
                .checked_mul(i64::from(line.quantity))
                .map_err(|e| AppError::Internal(format!("cannot price an order line: {e}")))?;
            let (name, picture) = catalog.get(line.product_id.as_str()).map_or_else(
                || (line.product_id.clone(), String::new()),
                |product| (product.name.clone(), picture_url(base, &product.picture)),
            );
            Ok(OrderLine {
                id: line.product_id.clone(),
                name,
                picture,
                quantity: line.quantity,
                price: format_price(&price),
            })
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    let timeline = order
        .history
        .iter()
        .map(|change| {
            let at = utc(change.at_ms)?;
            Ok(TimelineEntry {
                state: state_view(change.state),
                at: display_time(at),
                datetime: rfc3339(at),
                note: Some(change.note.clone()).filter(|note| !note.is_empty()),
            })
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    let price = |amount| money(amount).map(|m| m.as_ref().map(format_price).unwrap_or_default());
    let placed = utc(order.created_at_ms)?;
    let view = OrderDetailPage {
        chrome: Chrome::new(&state, &ctx, "Your order", &[], None),
        placed: display_time(placed),
        placed_datetime: rfc3339(placed),
        state: state_view(order.state),
        lines,
        shipping: price(order.shipping_cost.as_ref())?,
        total: price(order.total.as_ref())?,
        tracking_id: order.tracking_id,
        address: address_lines(order.shipping_address.as_ref()),
        timeline,
        warnings: order.warnings,
        id: order.id,
    };
    Ok(Html(view.render()?))
}

fn state_view(value: i32) -> OrderStateView {
    let state = state_of(value);
    OrderStateView {
        label: state_label(state),
        name: state_name(state),
    }
}

/// The address as it is written on a parcel: street; city, state and zip;
/// country. Empty parts are left out.
fn address_lines(address: Option<&Address>) -> Vec<String> {
    let Some(address) = address else {
        return Vec::new();
    };
    let zip = (address.zip_code != 0).then(|| address.zip_code.to_string());
    let town: Vec<&str> = [address.city.as_str(), address.state.as_str()]
        .into_iter()
        .chain(zip.as_deref())
        .filter(|part| !part.is_empty())
        .collect();
    [
        address.street_address.clone(),
        town.join(", "),
        address.country.clone(),
    ]
    .into_iter()
    .filter(|line| !line.is_empty())
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_addresses_like_parcels() {
        let address = Address {
            street_address: "1600 Amphitheatre Parkway".to_owned(),
            city: "Mountain View".to_owned(),
            state: "CA".to_owned(),
            country: "United States".to_owned(),
            zip_code: 94043,
        };
        assert_eq!(
            address_lines(Some(&address)),
            [
                "1600 Amphitheatre Parkway",
                "Mountain View, CA, 94043",
                "United States"
            ]
        );
        let sparse = Address {
            city: "Paris".to_owned(),
            ..Address::default()
        };
        assert_eq!(address_lines(Some(&sparse)), ["Paris"]);
        assert!(address_lines(None).is_empty());
    }
}
