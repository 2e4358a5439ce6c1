//! `POST {BASE_URL}/cart/checkout`: place the order and show the confirmation.

use std::collections::HashMap;

use askama::Template;
use axum::{
    Extension, Form,
    extract::{State, rejection::FormRejection},
    http::StatusCode,
    response::{Html, IntoResponse, Response},
};
use boutique_money::{Money, format_price};
use boutique_platform::error::error_reason;
use boutique_proto::{Address, CreditCardInfo, OrderResult, PlaceOrderRequest, Product, reasons};
use tonic::Code;

use crate::{
    State as AppState,
    backends::BackendError,
    ctx::Ctx,
    error::AppError,
    handlers::{MAX_RECOMMENDATIONS, cards, cart::render_cart, form_fields},
    validate,
    views::{CheckoutForm, Chrome, Notice, OrderLine, OrderPage, picture_url},
};

/// Longest refusal text shown to the shopper; anything longer is cut.
const MAX_NOTICE_LEN: usize = 500;

/// Validates the form (422 naming each bad field), places the order and
/// renders the confirmation with 200, as upstream (no redirect). When the
/// order fails, the shopper is back on the cart page, cart kept, with what
/// went wrong: a declined card is 422 with the reason, an outage 503, anything
/// else 500 with a generic message.
pub(crate) async fn place_order(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response, AppError> {
    let fields = form_fields(form)?;
    let checkout = validate::checkout(&fields).map_err(AppError::Invalid)?;
    // Kept to refill the form if the order fails; the card number and CVV
    // are not echoed back into the page.
    let refill = CheckoutForm {
        email: checkout.email.clone(),
        street_address: checkout.street_address.clone(),
        zip_code: checkout.zip_code.to_string(),
        city: checkout.city.clone(),
        state: checkout.state.clone(),
        country: checkout.country.clone(),
        card_number: String::new(),
        cvv: String::new(),
        month: checkout.card_month,
        year: checkout.card_year,
        // The same key again: resubmitting after a failure that may have
        // charged the card replays that outcome instead of charging anew.
        order_key: checkout
            .order_key
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
    };
    let request = PlaceOrderRequest {
        user_id: ctx.shopper_id().to_owned(),
        user_currency: ctx.currency.clone(),
        address: Some(Address {
            street_address: checkout.street_address,
            city: checkout.city,
            state: checkout.state,
            country: checkout.country,
            zip_code: checkout.zip_code,
        }),
        email: checkout.email,
        credit_card: Some(CreditCardInfo {
            credit_card_number: checkout.card_number,
            credit_card_cvv: checkout.card_cvv,
            credit_card_expiration_year: checkout.card_year,
            credit_card_expiration_month: checkout.card_month,
        }),
    };
    match state
        .backends
        .place_order(request, checkout.order_key.as_deref())
        .await
    {
        Ok(order) => {
            tracing::info!(order_id = %order.order_id, "Order placed.");
            Ok(Html(render_order(&state, &ctx, &order).await?).into_response())
        }
        Err(error) => {
            let (status, notice) = refusal(&error);
            if status.is_server_error() {
                tracing::error!(error = %error, "Checkout failed.");
            } else {
                tracing::info!(error = %error, "Checkout refused.");
            }
            let message = notice.text.clone();
            // The cart page needs the cart, catalog, currency and shipping; if
            // one of them is down too, the explanation still reaches the shopper.
            let html = render_cart(&state, &ctx, refill, Some(notice))
                .await
                .map_err(|page_error| {
                    tracing::warn!(error = %page_error, "Cannot show the cart after a failed order.");
                    AppError::OrderFailed { status, message }
                })?;
            Ok((status, Html(html)).into_response())
        }
    }
}

/// How a failed order is explained. Checkout reports a declined card or a
/// bad request as `INVALID_ARGUMENT`/`FAILED_PRECONDITION`/`OUT_OF_RANGE`
/// with a message meant for the shopper; other failures show no internals.
fn refusal(error: &BackendError) -> (StatusCode, Notice) {
    match error {
        // Another order for this cart is being placed (a second tab, a
        // changed form sent while the first was running): nothing charged.
        BackendError::Status { status, .. }
            if error_reason(status).is_some_and(|(reason, _)| reason == reasons::ORDER_IN_PROGRESS) =>
        {
            (
                StatusCode::CONFLICT,
                Notice {
                    heading: "Your order is already being placed",
                    text: "We are placing an order for this cart right now; its confirmation \
                           follows where you sent it. Nothing more was charged, so there is no \
                           need to send it again."
                        .to_owned(),
                },
            )
        }
        BackendError::Status { status, .. }
            if matches!(
                status.code(),
                Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange
            ) =>
        {
            let text: String = status.message().chars().take(MAX_NOTICE_LEN).collect();
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Notice {
                    heading: "Your order could not be placed",
                    text: if text.is_empty() {
                        "Your payment was declined. Please check your card details.".to_owned()
                    } else {
                        text
                    },
                },
            )
        }
        // Checkout marks an order that may have charged the card but could
        // not be completed (`PAYMENT_UNCERTAIN`, `CHARGED_NOT_SHIPPED`); the
        // shopper must read its message (not to pay twice). Only checkout's
        // own statuses carry such a reason, never a connection failure.
        BackendError::Status { status, .. }
            if error_reason(status).is_some_and(|(reason, _)| {
                reason == reasons::PAYMENT_UNCERTAIN || reason == reasons::CHARGED_NOT_SHIPPED
            }) =>
        {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Notice {
                    heading: "Your order could not be completed",
                    text: status.message().chars().take(MAX_NOTICE_LEN).collect(),
                },
            )
        }
        _ if error.is_unavailable() => (
            StatusCode::SERVICE_UNAVAILABLE,
            Notice {
                heading: "Checkout is taking a short break",
                text: "We couldn't reach our checkout just now. Your cart is kept; please try again in a moment.".to_owned(),
            },
        ),
        _ => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Notice {
                heading: "Your order could not be placed",
                text: "Something went wrong on our side while placing your order. Your cart is kept; please try again.".to_owned(),
            },
        ),
    }
}

/// The confirmation. The total is shipping plus every line's unit cost ×
/// quantity, computed here as upstream; checkout's unit costs and shipping
/// are already rounded to the currency's minor unit, so this is exactly the
/// amount it charged. Product names and pictures, the recommendations and
/// the cart badge are niceties fetched at once; any of them failing only
/// thins the page.
async fn render_order(
    state: &AppState,
    ctx: &Ctx,
    order: &OrderResult,
) -> Result<String, AppError> {
    let backends = &state.backends;
    let base = &state.config.base_url;
    let (products, recommended, cart) = tokio::join!(
        backends.list_products(),
        backends.recommendations(ctx.shopper_id(), Vec::new()),
        backends.cart(ctx.shopper_id()),
    );
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

    let money_error =
        |e: boutique_money::MoneyError| AppError::Internal(format!("cannot total the order: {e}"));
    let shipping = order
        .shipping_cost
        .as_ref()
        .map(Money::try_from)
        .transpose()
        .map_err(money_error)?
        .map_or_else(|| Money::zero(ctx.currency.as_str()), Ok)
        .map_err(money_error)?;
    let mut total = shipping.clone();
    let mut lines = Vec::with_capacity(order.items.len());
    for item in &order.items {
        let (product_id, quantity) = item.item.as_ref().map_or((String::new(), 0), |cart_item| {
            (cart_item.product_id.clone(), cart_item.quantity)
        });
        let unit = item
            .cost
            .as_ref()
            .map(Money::try_from)
            .transpose()
            .map_err(money_error)?
            .ok_or_else(|| AppError::Internal("an order line has no cost".to_owned()))?;
        let line = unit.checked_mul(i64::from(quantity)).map_err(money_error)?;
        total = total.checked_add(&line).map_err(money_error)?;
        let (name, picture) = catalog.get(product_id.as_str()).map_or_else(
            || (product_id.clone(), String::new()),
            |product| (product.name.clone(), picture_url(base, &product.picture)),
        );
        lines.push(OrderLine {
            id: product_id,
            name,
            picture,
            quantity,
            price: format_price(&line),
        });
    }
    let recommendations: Vec<Product> = recommended
        .unwrap_or_default()
        .iter()
        .filter_map(|id| catalog.get(id.as_str()).map(|product| (*product).clone()))
        .take(MAX_RECOMMENDATIONS)
        .collect();
    let cart_size = cart.map(|items| super::cart_size(&items)).ok();
    let page = OrderPage {
        chrome: Chrome::new(state, ctx, "Order complete", &[], cart_size),
        order_id: order.order_id.clone(),
        tracking_id: order.shipping_tracking_id.clone(),
        lines,
        shipping: format_price(&shipping),
        total: format_price(&total),
        recommendations: cards(base, &recommendations),
    };
    Ok(page.render()?)
}

#[cfg(test)]
mod tests {
    use tonic::Status;

    use super::*;
    use crate::backends::Backend;

    fn refused(status: Status) -> (StatusCode, String) {
        let (code, notice) = refusal(&BackendError::Status {
            backend: Backend::Checkout,
            status,
        });
        (code, notice.text)
    }

    #[test]
    fn explains_declines_and_hides_internals() {
        let (code, text) = refused(Status::failed_precondition("Your credit card expired"));
        assert_eq!(
            (code, text.as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, "Your credit card expired")
        );
        // Recognised by the reason checkout marks it with, not by its words.
        let charged = boutique_platform::RpcError::Unavailable(
            "Your card was charged, but your order could not be shipped.".to_owned(),
        )
        .with_reason(
            reasons::CHARGED_NOT_SHIPPED,
            [("order_id", "o-1".to_owned())],
        );
        let (code, text) = refused(Status::from(charged));
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
        assert!(text.starts_with("Your card was charged"));
        let (_, text) = refused(Status::unavailable(
            "Your card was charged, says a stranger",
        ));
        assert!(!text.contains("stranger"), "unmarked text is not shown");
        let (code, text) = refused(Status::unavailable("payment: tcp connect error"));
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
        assert!(!text.contains("tcp"));
        let (code, text) = refused(Status::internal("secret"));
        assert_eq!(code, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!text.contains("secret"));
        let long = "x".repeat(2000);
        let (_, text) = refused(Status::invalid_argument(long));
        assert_eq!(text.len(), MAX_NOTICE_LEN);
    }
}
