//! `GET {BASE_URL}/`: the Hot Products grid.

use askama::Template;
use axum::{Extension, extract::State, response::Html};
use boutique_money::format_price;
use futures::future::try_join_all;

use crate::{
    State as AppState,
    ctx::Ctx,
    error::AppError,
    handlers::cart_size,
    views::{Chrome, HomePage, ProductCard},
};

/// Every product with its price in the shopper's currency. The three lookups
/// run at once, then all conversions at once. Upstream also fetched ads here
/// and threw them away; we skip that call.
pub(crate) async fn home(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
) -> Result<Html<String>, AppError> {
    let backends = &state.backends;
    let (currencies, products, cart) = tokio::try_join!(
        backends.supported_currencies(),
        backends.list_products(),
        backends.cart(ctx.shopper_id()),
    )?;
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
        chrome: Chrome::new(&state, &ctx, "Shop", &currencies, Some(cart_size(&cart))),
        products: cards,
    };
    Ok(Html(page.render()?))
}
