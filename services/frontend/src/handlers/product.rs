//! `GET {BASE_URL}/product/{id}`: one product, an ad and recommendations.

use askama::Template;
use axum::{
    Extension,
    extract::{Path, State},
    response::Html,
};
use boutique_money::format_price;
use boutique_proto::Ad;
use rand::seq::IndexedRandom;

use crate::{
    State as AppState,
    ctx::Ctx,
    error::AppError,
    handlers::{badge, recommended_cards},
    validate::is_product_id,
    views::{AdView, Chrome, ProductCard, ProductPage, QUANTITIES},
};

/// The product page. The product, currencies, cart and recommendations are
/// fetched at once; the price conversion and the ad (which needs the product's
/// categories) start as soon as the product is known, without waiting for the
/// others. An unknown product is a 404; a missing ad or recommendation just
/// leaves its section out, a missing cart the badge, a missing currency list
/// the switcher (see [`Backends::currencies_for_page`](crate::backends::Backends::currencies_for_page)).
pub(crate) async fn product(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Result<Html<String>, AppError> {
    if !is_product_id(&id) {
        return Err(AppError::NotFound);
    }
    let backends = &state.backends;
    let priced = async {
        let product = backends.get_product(&id).await?;
        let (amount, ads) = tokio::join!(
            backends.convert(product.price_usd.as_ref(), &ctx.currency),
            backends.ads(product.categories.clone()),
        );
        Ok::<_, AppError>((product, amount?, ads))
    };
    let (priced, currencies, cart, recommendations) = tokio::join!(
        priced,
        backends.currencies_for_page(),
        backends.cart(ctx.session_id()),
        recommended_cards(&state, &ctx, vec![id.clone()]),
    );
    let (product, amount, ads) = priced?;
    let ad = match ads {
        Ok(ads) => pick_ad(&state.config.base_url, &ads),
        Err(error) => {
            tracing::warn!(error = %error, "No ad for this page.");
            None
        }
    };
    let page = ProductPage {
        chrome: Chrome::new(&state, &ctx, product.name.clone(), &currencies, badge(cart)),
        product: ProductCard::new(&state.config.base_url, &product, format_price(&amount)),
        quantities: QUANTITIES,
        recommendations,
        ad,
    };
    Ok(Html(page.render()?))
}

/// One ad at random; none for an empty list (upstream crashed on one). Ads
/// link within the shop only, so a redirect that is not a site path is skipped.
fn pick_ad(base: &str, ads: &[Ad]) -> Option<AdView> {
    let usable: Vec<&Ad> = ads
        .iter()
        .filter(|ad| ad.redirect_url.starts_with('/') && !ad.redirect_url.starts_with("//"))
        .collect();
    usable.choose(&mut rand::rng()).map(|ad| AdView {
        url: format!("{base}{}", ad.redirect_url),
        text: ad.text.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ad(url: &str) -> Ad {
        Ad {
            redirect_url: url.to_owned(),
            text: "Sale".to_owned(),
        }
    }

    #[test]
    fn picks_a_local_ad_or_none() {
        assert!(pick_ad("", &[]).is_none());
        assert!(pick_ad("", &[ad("https://evil.example/"), ad("//evil.example")]).is_none());
        let picked = pick_ad("/shop", &[ad("/product/X")]).unwrap();
        assert_eq!(picked.url, "/shop/product/X");
    }
}
