//! `POST /api/v1/checkout`: place an order for the caller's cart.
//!
//! The body is checked by the checkout form's own rules
//! ([`validate::checkout`]), so the API accepts exactly what the pages do.
//! `Idempotency-Key` (optional, 1 to 255 visible ASCII characters) is passed
//! to checkout's PlaceOrder as the `idempotency-key` metadata, as the
//! storefront's hidden `order_key` field is: checkout names one order by it
//! for the order's life, so a replay gets that order's outcome (the same
//! order, again **201**: checkout's answer does not say whether it was a
//! replay) and never a second charge; the same key with another body is a
//! 422 `IDEMPOTENCY_KEY_REUSED`. Outcomes are told apart by the reason
//! checkout marks them with (`google.rpc.ErrorInfo`), never by their text.

use axum::{
    Json,
    extract::{Query, State, rejection::QueryRejection},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use boutique_money::Money;
use boutique_platform::error::error_reason;
use boutique_proto::{Address, CreditCardInfo, OrderResult, PlaceOrderRequest, reasons};
use tonic::Code as GrpcCode;

use crate::{
    State as AppState,
    api::{
        caller::ApiCaller,
        extract::{self, ApiJson},
        problem::{ApiError, Code, FieldProblem},
        products::CurrencyParam,
        schema::{AddressJson, CheckoutRequest, MoneyJson, PlacedLine, PlacedOrder},
    },
    backends::BackendError,
    validate::{self, Fields},
};

/// The header naming one order for its life.
pub(crate) const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The longest key checkout accepts (the order store's limit).
const MAX_KEY_LEN: usize = 255;

/// The longest refusal text passed on from checkout.
const MAX_DETAIL_LEN: usize = 500;

/// Place an order.
#[utoipa::path(
    post,
    path = "/api/v1/checkout",
    tag = "checkout",
    operation_id = "placeOrder",
    security((), ("bearer" = [])),
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "Names this order for its life: a replay gets the same order and never a second charge; reused with another body it is refused (422 IDEMPOTENCY_KEY_REUSED). 1 to 255 visible ASCII characters, e.g. a UUID.", min_length = 1, max_length = 255, pattern = "^[!-~]{1,255}$"),
        CurrencyParam,
    ),
    request_body(content = CheckoutRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Placed and charged (also a replay of the same Idempotency-Key). The order's record is at Location.", body = PlacedOrder,
            headers(("Location" = String, description = "`/api/v1/orders/{id}` of the order."))),
        (status = 401, description = "A bearer token was sent and it is malformed, expired, signed out or its account is gone (UNAUTHENTICATED).", body = crate::api::problem::Problem, content_type = "application/problem+json",
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"boutique\", error=\"invalid_token\"`."))),
        (status = 400, description = "The body is not JSON, the query does not decode, or the Idempotency-Key is malformed.", body = crate::api::problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "A browser sent it from another site.", body = crate::api::problem::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Another order for this cart is being placed (ORDER_IN_PROGRESS); nothing more was charged.", body = crate::api::problem::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large.", body = crate::api::problem::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not `application/json`.", body = crate::api::problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad field (VALIDATION_FAILED), a declined card or an empty cart (ORDER_REFUSED), a reused key (IDEMPOTENCY_KEY_REUSED) or an unsupported currency.", body = crate::api::problem::Problem, content_type = "application/problem+json"),
        (status = 503, description = "Checkout or a service it needs is not answering (SERVICE_UNAVAILABLE), or the card may have been charged (PAYMENT_UNCERTAIN, CHARGED_NOT_SHIPPED: do not pay again). Retry-After says when to try again.", body = crate::api::problem::Problem, content_type = "application/problem+json",
            headers(("Retry-After" = String, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn place(
    State(state): State<AppState>,
    caller: ApiCaller,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    ApiJson(body): ApiJson<CheckoutRequest>,
) -> Result<Response, ApiError> {
    let fields = extract::query(query)?;
    let key = idempotency_key(&headers)?;
    let checked = check_body(&body)?;
    let currency = extract::currency(&state, &caller, &fields).await?;
    let request = PlaceOrderRequest {
        user_id: caller.cart_id().to_owned(),
        user_currency: currency.clone(),
        address: Some(Address {
            street_address: checked.street_address,
            city: checked.city,
            state: checked.state,
            country: checked.country,
            zip_code: checked.zip_code,
        }),
        email: checked.email,
        credit_card: Some(CreditCardInfo {
            credit_card_number: checked.card_number,
            credit_card_cvv: checked.card_cvv,
            credit_card_expiration_year: checked.card_year,
            credit_card_expiration_month: checked.card_month,
        }),
    };
    let order = state
        .backends
        .place_order(request, key.as_deref())
        .await
        .map_err(refusal)?;
    tracing::info!(order_id = %order.order_id, "Order placed through the API.");
    let placed = placed(order, &currency)?;
    let location = format!(
        "{}/api/v1/orders/{}",
        state.config.base_url, placed.order_id
    );
    let location = HeaderValue::try_from(location)
        .map_err(|_| ApiError::internal("checkout sent an order id unfit for a URL"))?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(placed),
    )
        .into_response())
}

/// The body checked by the checkout form's own rules; a 422 naming each bad
/// field by its JSON pointer otherwise.
pub(crate) fn check_body(body: &CheckoutRequest) -> Result<validate::Checkout, ApiError> {
    validate::checkout(&form_of(body)).map_err(|errors| {
        ApiError::fields(
            Code::ValidationFailed,
            errors
                .iter()
                .map(|error| FieldProblem {
                    field: pointer(error.field).to_owned(),
                    reason: error.reason.to_owned(),
                })
                .collect(),
        )
    })
}

/// The `Idempotency-Key` header, if any: what checkout accepts, else a 400.
pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let bad = || {
        ApiError::field(
            Code::BadIdempotencyKey,
            "Idempotency-Key",
            format!("must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
        )
    };
    let bytes = value.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_KEY_LEN || !bytes.iter().all(u8::is_ascii_graphic) {
        return Err(bad());
    }
    value
        .to_str()
        .map(|key| Some(key.to_owned()))
        .map_err(|_| bad())
}

/// The body as the checkout form's fields, for the form's own rules.
fn form_of(body: &CheckoutRequest) -> Fields {
    let pairs = [
        ("email", body.email.clone()),
        ("street_address", body.address.street_address.clone()),
        ("zip_code", body.address.zip_code.to_string()),
        ("city", body.address.city.clone()),
        ("state", body.address.state.clone()),
        ("country", body.address.country.clone()),
        ("credit_card_number", body.credit_card.number.clone()),
        (
            "credit_card_expiration_month",
            body.credit_card.expiration_month.to_string(),
        ),
        (
            "credit_card_expiration_year",
            body.credit_card.expiration_year.to_string(),
        ),
        ("credit_card_cvv", body.credit_card.cvv.to_string()),
    ];
    Fields::new(
        pairs
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect(),
    )
}

/// The JSON pointer of a checkout form field's label.
fn pointer(label: &str) -> &'static str {
    match label {
        "Email" => "/email",
        "StreetAddress" => "/address/street_address",
        "ZipCode" => "/address/zip_code",
        "City" => "/address/city",
        "State" => "/address/state",
        "Country" => "/address/country",
        "CcNumber" => "/credit_card/number",
        "CcMonth" => "/credit_card/expiration_month",
        "CcYear" => "/credit_card/expiration_year",
        "CcCVV" => "/credit_card/cvv",
        _ => "",
    }
}

/// How a failed PlaceOrder is told to the client, by checkout's reason
/// first and its status code second.
fn refusal(error: BackendError) -> ApiError {
    let BackendError::Status { status, .. } = &error else {
        return error.into();
    };
    let said = || {
        status
            .message()
            .chars()
            .take(MAX_DETAIL_LEN)
            .collect::<String>()
    };
    if let Some((reason, metadata)) = error_reason(status) {
        let order_id = metadata.get("order_id").cloned();
        let code = match reason.as_str() {
            reasons::ORDER_IN_PROGRESS => Some(Code::OrderInProgress),
            reasons::IDEMPOTENCY_KEY_REUSED => Some(Code::IdempotencyKeyReused),
            reasons::PAYMENT_UNCERTAIN => Some(Code::PaymentUncertain),
            reasons::CHARGED_NOT_SHIPPED => Some(Code::ChargedNotShipped),
            _ => None,
        };
        if let Some(code) = code {
            return ApiError::new(code, said())
                .with_order(order_id)
                .caused_by(error.to_string());
        }
    }
    match status.code() {
        // A declined card, an empty cart: checkout's words are for the shopper.
        GrpcCode::InvalidArgument | GrpcCode::FailedPrecondition | GrpcCode::OutOfRange => {
            let detail = said();
            ApiError::new(
                Code::OrderRefused,
                if detail.is_empty() {
                    "The order was refused; nothing was charged.".to_owned()
                } else {
                    detail
                },
            )
            .caused_by(error.to_string())
        }
        _ => error.into(),
    }
}

/// The placed order as JSON; the total is computed as the confirmation page
/// computes it (checkout's unit costs and shipping are already rounded).
fn placed(order: OrderResult, currency: &str) -> Result<PlacedOrder, ApiError> {
    let bad = |error: boutique_money::MoneyError| {
        ApiError::internal(format!("checkout sent bad money: {error}"))
    };
    let shipping = match order.shipping_cost.as_ref() {
        Some(cost) => Money::try_from(cost).map_err(bad)?,
        None => Money::zero(currency).map_err(bad)?,
    };
    let mut total = shipping.clone();
    let mut items = Vec::with_capacity(order.items.len());
    for item in order.items {
        let (product_id, quantity) = item
            .item
            .map_or((String::new(), 0), |line| (line.product_id, line.quantity));
        let unit = item
            .cost
            .as_ref()
            .map(Money::try_from)
            .transpose()
            .map_err(bad)?
            .ok_or_else(|| ApiError::internal("an order line has no cost"))?;
        total = total
            .checked_add(&unit.checked_mul(i64::from(quantity)).map_err(bad)?)
            .map_err(bad)?;
        items.push(PlacedLine {
            product_id,
            quantity,
            unit_cost: MoneyJson::from(&unit),
        });
    }
    Ok(PlacedOrder {
        order_id: order.order_id,
        tracking_id: order.shipping_tracking_id,
        items,
        shipping_cost: MoneyJson::from(&shipping),
        total: MoneyJson::from(&total),
        shipping_address: order.shipping_address.map(|address| AddressJson {
            street_address: address.street_address,
            city: address.city,
            state: address.state,
            country: address.country,
            zip_code: i64::from(address.zip_code),
        }),
    })
}

#[cfg(test)]
mod tests {
    use boutique_platform::RpcError;
    use tonic::Status;

    use super::*;
    use crate::backends::Backend;

    fn refused(status: Status) -> ApiError {
        refusal(BackendError::Status {
            backend: Backend::Checkout,
            status,
        })
    }

    #[test]
    fn outcomes_are_told_apart_by_reason_not_words() {
        let in_progress = RpcError::FailedPrecondition("busy".to_owned())
            .with_reason(reasons::ORDER_IN_PROGRESS, [("order_id", "o-1".to_owned())]);
        assert_eq!(
            refused(Status::from(in_progress)).code(),
            Code::OrderInProgress
        );
        let reused = RpcError::invalid("x").with_reason(reasons::IDEMPOTENCY_KEY_REUSED, []);
        assert_eq!(
            refused(Status::from(reused)).code(),
            Code::IdempotencyKeyReused
        );
        // The same words without the reason are just a refusal.
        assert_eq!(
            refused(Status::failed_precondition("ORDER_IN_PROGRESS")).code(),
            Code::OrderRefused
        );
        assert_eq!(
            refused(Status::unavailable("down")).code(),
            Code::ServiceUnavailable
        );
        assert_eq!(refused(Status::internal("boom")).code(), Code::Internal);
    }

    #[test]
    fn keys_are_what_checkout_accepts() {
        let key = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(IDEMPOTENCY_KEY, HeaderValue::from_static(value));
            idempotency_key(&headers)
        };
        assert_eq!(key("order-1").unwrap().as_deref(), Some("order-1"));
        assert!(key("").is_err());
        assert!(key("two words").is_err());
        assert!(idempotency_key(&HeaderMap::new()).unwrap().is_none());
        let long: &'static str = Box::leak("k".repeat(256).into_boxed_str());
        assert!(key(long).is_err());
    }

    #[test]
    fn every_form_label_has_a_pointer() {
        for label in [
            "Email",
            "StreetAddress",
            "ZipCode",
            "City",
            "State",
            "Country",
            "CcNumber",
            "CcMonth",
            "CcYear",
            "CcCVV",
        ] {
            assert!(pointer(label).starts_with('/'), "{label}");
        }
    }
}
