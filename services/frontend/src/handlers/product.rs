//! `GET {BASE_URL}/product/{id}`: one product, its ratings, an ad and
//! recommendations; `POST {BASE_URL}/product/{id}/rating` and
//! `.../rating/delete`: the signed-in shopper's rating of it.

use std::sync::Arc;

use askama::Template;
use axum::{
    Extension, Form,
    extract::{Path, Query, State, rejection::FormRejection, rejection::QueryRejection},
    response::{Html, Response},
};
use boutique_money::format_price;
use boutique_proto::{Ad, boutique::ratings::v1::Rating};
use rand::seq::IndexedRandom;

use crate::{
    State as AppState,
    ctx::Ctx,
    error::AppError,
    handlers::{badge, form_fields, found, query_fields, recommended_cards},
    orders::{display_date, query_value, rfc3339, utc},
    ratings::{self, MAX_TEXT_CHARS, PAGE_SIZE, WriteRefusal},
    validate::{FieldError, is_product_id},
    views::{
        AdView, Chrome, MyRating, ProductCard, ProductPage, QUANTITIES, RatingsView, ReviewView,
        SummaryView, star_glyphs,
    },
};

/// The longest reviews page token followed.
const MAX_TOKEN_LEN: usize = 512;

/// The product page. The product, currencies, cart, recommendations and the
/// ratings summary are fetched at once; the price conversion and the ad
/// (which needs the product's categories) start as soon as the product is
/// known, and the reviews as soon as the summary says there are any (or
/// `?reviews=` asks for a later page), without waiting for the others. An
/// unknown product is a 404; a missing ad, recommendation or ratings answer
/// just leaves its section out, a missing cart the badge, a missing currency
/// list the switcher (see
/// [`Backends::currencies_for_page`](crate::backends::Backends::currencies_for_page)).
pub(crate) async fn product(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Html<String>, AppError> {
    if !is_product_id(&id) {
        return Err(AppError::NotFound);
    }
    let fields = query_fields(query)?;
    let reviews_token = fields.get("reviews");
    if reviews_token.len() > MAX_TOKEN_LEN || !reviews_token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad_reviews_token());
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
    let (priced, currencies, cart, recommendations, ratings) = tokio::join!(
        priced,
        backends.currencies_for_page(),
        backends.cart(ctx.shopper_id()),
        recommended_cards(&state, &ctx, vec![id.clone()]),
        ratings_view(&state, &ctx, &id, reviews_token),
    );
    let (product, amount, ads) = priced?;
    let ratings = ratings?;
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
        ratings,
    };
    Ok(Html(page.render()?))
}

/// The ratings section: the summary (one `GetSummaries`), then the page of
/// reviews when there are any, and the shopper's own rating for the form.
/// A ratings outage leaves the section without them; only a reviews token
/// the service refuses is an error (400), the client's.
async fn ratings_view(
    state: &AppState,
    ctx: &Ctx,
    product_id: &str,
    page_token: &str,
) -> Result<RatingsView, AppError> {
    let backends = &state.backends;
    let listed = async {
        let summary = ratings::summaries(state, &[product_id])
            .await
            .and_then(|mut summaries| summaries.remove(product_id));
        let Some(summary) = summary else {
            return Ok((None, None));
        };
        if summary.count == 0 && page_token.is_empty() {
            return Ok((Some(summary), None));
        }
        let listed = if page_token.is_empty() {
            backends.newest_ratings(product_id, PAGE_SIZE).await
        } else {
            backends
                .list_ratings(product_id, PAGE_SIZE, page_token)
                .await
                .map(Arc::new)
        };
        match listed {
            Ok(listed) => Ok((Some(summary), Some(listed))),
            Err(error) if error.code() == Some(tonic::Code::InvalidArgument) => {
                Err(bad_reviews_token())
            }
            Err(error) => {
                tracing::warn!(error = %error, "No reviews for this page.");
                Ok((Some(summary), None))
            }
        }
    };
    let mine = async {
        let account = ctx.account.as_ref()?;
        match backends.rating(&account.id, product_id).await {
            Ok(rating) => rating,
            Err(error) => {
                tracing::warn!(error = %error, "Cannot show the shopper's own rating.");
                None
            }
        }
    };
    let (listed, mine) = tokio::join!(listed, mine);
    let (summary, listed) = listed?;
    let account_id = ctx.account.as_ref().map(|account| account.id.as_str());
    let base = &state.config.base_url;
    let (reviews, next_page) = match listed {
        Some(listed) => (
            listed
                .ratings
                .iter()
                .map(|rating| review(rating, account_id))
                .collect(),
            (!listed.next_page_token.is_empty()).then(|| {
                format!(
                    "{base}/product/{product_id}?reviews={}#reviews",
                    query_value(&listed.next_page_token)
                )
            }),
        ),
        None => (Vec::new(), None),
    };
    Ok(RatingsView {
        summary: summary.map(|s| SummaryView::new(s.count, s.average_centistars)),
        reviews,
        next_page,
        later_page: !page_token.is_empty(),
        signed_in: ctx.account.is_some(),
        mine: mine.map(|rating| MyRating {
            stars: rating.stars,
            text: rating.text,
        }),
    })
}

fn review(rating: &Rating, account_id: Option<&str>) -> ReviewView {
    let at = utc(rating.updated_at_ms).ok();
    ReviewView {
        stars: rating.stars,
        glyphs: star_glyphs(i64::from(rating.stars)),
        text: rating.text.clone(),
        verified: rating.verified_purchase,
        date: at.map(display_date).unwrap_or_default(),
        datetime: at.map(rfc3339).unwrap_or_default(),
        mine: account_id == Some(rating.account_id.as_str()),
    }
}

fn bad_reviews_token() -> AppError {
    AppError::BadQuery(vec![FieldError {
        field: "reviews",
        reason: "is not a page of reviews this shop gave out; start again from the product page",
    }])
}

/// `POST /product/{id}/rating` (`stars` 1 to 5, `text` optional): writes the
/// signed-in shopper's rating, then 302 back to the reviews. A guest is sent
/// to sign in first.
pub(crate) async fn rate(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response, AppError> {
    if !is_product_id(&id) {
        return Err(AppError::NotFound);
    }
    let fields = form_fields(form)?;
    let base = &state.config.base_url;
    let Some(account) = &ctx.account else {
        return Ok(sign_in_first(base, &id));
    };
    let mut errors = Vec::new();
    let stars = match fields.get("stars").parse::<i32>() {
        Ok(stars @ 1..=5) => stars,
        _ => {
            errors.push(FieldError {
                field: "Stars",
                reason: "choose from 1 to 5 stars",
            });
            0
        }
    };
    let text = ratings::normalise_text(fields.raw("text"));
    if text.chars().count() > MAX_TEXT_CHARS {
        errors.push(FieldError {
            field: "Review",
            reason: "may be at most 2000 characters",
        });
    }
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    // An unknown product is a 404 (the catalog's answer, usually cached).
    state.backends.get_product(&id).await?;
    ratings::put(&state, &account.id, &id, stars, &text)
        .await
        .map_err(write_error)?;
    tracing::info!(account_id = %account.id, product_id = %id, stars, "Rated a product.");
    Ok(found(&format!("{base}/product/{id}#reviews")))
}

/// `POST /product/{id}/rating/delete`: deletes the signed-in shopper's
/// rating (nothing to delete is fine), then 302 back to the reviews.
pub(crate) async fn unrate(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    if !is_product_id(&id) {
        return Err(AppError::NotFound);
    }
    let base = &state.config.base_url;
    let Some(account) = &ctx.account else {
        return Ok(sign_in_first(base, &id));
    };
    state
        .backends
        .delete_rating(&account.id, &id)
        .await
        .map_err(write_error)?;
    Ok(found(&format!("{base}/product/{id}#reviews")))
}

fn sign_in_first(base: &str, product_id: &str) -> Response {
    let back = format!("{base}/product/{product_id}");
    found(&format!("{base}/signin?next={}", query_value(&back)))
}

fn write_error(error: crate::backends::BackendError) -> AppError {
    match ratings::write_refusal(&error) {
        WriteRefusal::Invalid(_) => AppError::Invalid(vec![FieldError {
            field: "Review",
            reason: "was not accepted: stars from 1 to 5, at most 2000 characters, no control characters",
        }]),
        WriteRefusal::RateLimited(seconds) => AppError::TooMany {
            message: format!(
                "You have written several ratings in a short time. Please wait {seconds} seconds and try again."
            ),
            retry_after: seconds,
        },
        WriteRefusal::Unavailable | WriteRefusal::Internal => AppError::Backend(error),
    }
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
