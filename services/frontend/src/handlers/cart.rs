//! `GET/POST {BASE_URL}/cart` and `POST {BASE_URL}/cart/empty`.

use askama::Template;
use axum::{
    Extension, Form,
    extract::{State, rejection::FormRejection},
    response::{Html, Response},
};
use boutique_money::{Money, format_price};
use futures::future::try_join_all;
use tonic::Code;

use crate::{
    State as AppState,
    backends::{Backend, BackendError},
    ctx::Ctx,
    error::AppError,
    handlers::{cart_size, form_fields, found, recommended_cards},
    validate,
    validate::FieldError,
    views::{CartLine, CartPage, CheckoutForm, Chrome, MONTHS, Notice, ProductCard, current_year},
};

/// The cart page with upstream's demo checkout values (a signed-in
/// shopper's own email).
pub(crate) async fn view_cart(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
) -> Result<Html<String>, AppError> {
    let mut form = CheckoutForm::demo();
    if let Some(account) = &ctx.account {
        // Confirmations go to the account's address unless the shopper
        // types another.
        form.email.clone_from(&account.email);
    }
    Ok(Html(render_cart(&state, &ctx, form, None).await?))
}

/// Adds a product: 422 for a bad form, 404 for an unknown product, then a 302
/// to the cart as upstream.
pub(crate) async fn add_to_cart(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response, AppError> {
    let fields = form_fields(form)?;
    let request = validate::add_to_cart(&fields).map_err(AppError::Invalid)?;
    let backends = &state.backends;
    backends.get_product(&request.product_id).await?;
    backends
        .add_to_cart(ctx.shopper_id(), &request.product_id, request.quantity)
        .await
        .map_err(|error| match error.code() {
            // The cart caps how much of one product a line may hold.
            Some(Code::InvalidArgument | Code::OutOfRange | Code::FailedPrecondition) => {
                AppError::Invalid(vec![FieldError {
                    field: "Quantity",
                    reason: "would put more of this product in your cart than we can sell at once",
                }])
            }
            _ => AppError::Backend(error),
        })?;
    Ok(found(&format!("{}/cart", state.config.base_url)))
}

/// Empties the cart, then a 302 home as upstream.
pub(crate) async fn empty_cart(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
) -> Result<Response, AppError> {
    state.backends.empty_cart(ctx.shopper_id()).await?;
    Ok(found(&format!("{}/", state.config.base_url)))
}

/// Renders the cart page. The currencies and the cart come first (everything
/// else depends on the cart); then recommendations, the shipping quote and
/// every line's product and price are fetched at once. The amounts follow
/// checkout's rule, so the page shows what PlaceOrder will charge: the
/// converted unit price and the converted shipping are each rounded once to
/// the currency's minor unit, a line is that unit price × quantity, and the
/// total is the exact sum of the lines and shipping.
pub(crate) async fn render_cart(
    state: &AppState,
    ctx: &Ctx,
    form: CheckoutForm,
    notice: Option<Notice>,
) -> Result<String, AppError> {
    let backends = &state.backends;
    let base = &state.config.base_url;
    let (currencies, items) = tokio::join!(
        backends.currencies_for_page(),
        backends.cart(ctx.shopper_id()),
    );
    let items = items?;
    let product_ids: Vec<String> = items.iter().map(|item| item.product_id.clone()).collect();
    let shipping = async {
        if items.is_empty() {
            return Money::zero(ctx.currency.as_str()).map_err(money_error);
        }
        let quote = backends.shipping_quote(items.clone()).await?;
        let converted = backends.convert(Some(&quote), &ctx.currency).await?;
        converted.round_to_minor_unit().map_err(money_error)
    };
    let lines = try_join_all(items.iter().map(|item| async move {
        let product = backends
            .get_product(&item.product_id)
            .await
            .map_err(cart_product_error)?;
        let unit = backends
            .convert(product.price_usd.as_ref(), &ctx.currency)
            .await?
            .round_to_minor_unit()
            .map_err(money_error)?;
        let line = unit
            .checked_mul(i64::from(item.quantity))
            .map_err(money_error)?;
        Ok::<_, AppError>((product, item.quantity, line))
    }));
    let (recommendations, shipping, lines) =
        tokio::join!(recommended_cards(state, ctx, product_ids), shipping, lines,);
    let (shipping, lines) = (shipping?, lines?);
    let total = lines
        .iter()
        .try_fold(shipping.clone(), |total, (_, _, line)| {
            total.checked_add(line)
        })
        .map_err(money_error)?;
    let this_year = current_year();
    let page = CartPage {
        chrome: Chrome::new(state, ctx, "Cart", &currencies, Some(cart_size(&items))),
        item_count: cart_size(&items),
        lines: lines
            .iter()
            .map(|(product, quantity, line)| CartLine {
                product: ProductCard::new(base, product, String::new()),
                quantity: *quantity,
                price: format_price(line),
            })
            .collect(),
        shipping: format_price(&shipping),
        total: format_price(&total),
        recommendations,
        form,
        years: (this_year..=this_year + 4).collect(),
        months: MONTHS,
        notice,
    };
    Ok(page.render()?)
}

/// Money that does not add up is our fault, not the shopper's.
#[allow(clippy::needless_pass_by_value)] // Used as `map_err(money_error)`.
fn money_error(error: boutique_money::MoneyError) -> AppError {
    AppError::Internal(format!("cannot total the cart: {error}"))
}

/// A product in the cart that the catalog no longer knows is not a 404 for
/// the cart page: it is an inconsistency on our side.
fn cart_product_error(error: BackendError) -> AppError {
    match &error {
        BackendError::Status {
            backend: Backend::Catalog,
            status,
        } if status.code() == Code::NotFound => {
            AppError::Internal(format!("the cart holds an unknown product: {error}"))
        }
        _ => AppError::Backend(error),
    }
}
