//! `GET {BASE_URL}/`: the Hot Products grid.

use askama::Template;
use axum::{Extension, extract::State, response::Html};
use boutique_money::format_price;
use futures::future::try_join_all;

use crate::{
    State as AppState,
    ctx::Ctx,
    error::AppError,
    handlers::badge,
    views::{Chrome, HomePage, ProductCard},
};

/// Every product with its price in the shopper's currency. The three lookups
/// run at once, then all conversions at once. Only the catalog and the
/// conversions are needed: without the cart the badge is hidden, without the
/// currency list the switcher shows the last one known. Upstream also fetched ads here
/// and threw them away; we skip that call.
pub(crate) async fn home(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
) -> Result<Html<String>, AppError> {
    let backends = &state.backends;
    let (currencies, products, cart) = tokio::join!(
        backends.currencies_for_page(),
        backends.list_products(),
        backends.cart(ctx.shopper_id()),
    );
    let products = products?;
    let prices = try_join_all(
        products
            .iter()
            .map(|product| backends.convert(product.price_usd.as_ref(), &ctx.currency)),
    )
    .await?;
    let base = &state.config.base_url;
    let cards = products
        .iter()
        .zip(&prices)
        .map(|(product, amount)| ProductCard::new(base, product, format_price(amount)))
        .collect();
    let page = HomePage {
        chrome: Chrome::new(&state, &ctx, "Shop", &currencies, badge(cart)),
        products: cards,
    };
    Ok(Html(page.render()?))
}
