//! What a write asks other services: whether the product exists (the
//! catalog; a write about an unknown product is refused) and whether the
//! account bought it (the orders service; an outage there only leaves the
//! rating unverified).

use std::time::Duration;

use boutique_platform::{RpcError, call::CallContext, telemetry::grpc::TracedChannel};
use boutique_proto::{
    GetProductRequest,
    boutique::orders::v1::{
        ListOrdersRequest, OrderState, order_service_client::OrderServiceClient,
    },
    product_catalog_service_client::ProductCatalogServiceClient,
};
use tonic::Code;

/// At most this many of the account's orders, newest first, are read to
/// find the product: a bound on the work one write can cause. An account
/// whose only purchase of the product is older than that is not verified.
pub const MAX_ORDERS_READ: u32 = 500;

/// Orders asked for per `ListOrders` page (the orders service's maximum).
const ORDERS_PAGE: u32 = 100;

/// How long the purchase check may take in all, so a slow orders service
/// delays a write by at most this much before it is stored unverified.
const VERIFY_BUDGET: Duration = Duration::from_secs(3);

/// The states of an order that was paid for.
const PAID: [OrderState; 4] = [
    OrderState::Charged,
    OrderState::Shipped,
    OrderState::Dispatched,
    OrderState::Delivered,
];

/// What the orders service said about a purchase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purchase {
    /// A paid order of the account holds the product.
    Verified,
    /// None of the account's orders read holds it, paid.
    NotFound,
    /// The orders service did not answer (in time): not verified.
    Unknown,
}

/// `Ok` when the catalog has `product_id`; `INVALID_ARGUMENT` when it does
/// not; the catalog's outage as `UNAVAILABLE` (the write cannot be checked,
/// so it is not made).
pub(crate) async fn product_exists(
    catalog: &ProductCatalogServiceClient<TracedChannel>,
    calls: &CallContext,
    product_id: &str,
) -> Result<(), RpcError> {
    let request = GetProductRequest {
        id: product_id.to_owned(),
    };
    // A read: retried under the catalog's policy.
    match calls
        .call_idempotent(
            "product catalog",
            catalog,
            request,
            |mut client, r| async move { client.get_product(r).await },
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(status) if status.code() == Code::NotFound => Err(RpcError::invalid(format!(
            "product_id {product_id:?} is not in the catalog"
        ))),
        Err(status) => Err(RpcError::from_downstream("product catalog", &status)),
    }
}

/// Whether `account_id` has a paid order holding `product_id`, read from the
/// orders service page by page (at most [`MAX_ORDERS_READ`] orders, within
/// [`VERIFY_BUDGET`]). Never fails: an outage is [`Purchase::Unknown`], logged.
pub(crate) async fn purchase(
    orders: &OrderServiceClient<TracedChannel>,
    calls: &CallContext,
    account_id: &str,
    product_id: &str,
) -> Purchase {
    let search = find_purchase(orders, calls, account_id, product_id);
    match tokio::time::timeout(VERIFY_BUDGET, search).await {
        Ok(Ok(true)) => Purchase::Verified,
        Ok(Ok(false)) => Purchase::NotFound,
        Ok(Err(status)) => {
            tracing::warn!(
                error = %status.message(),
                code = ?status.code(),
                "The orders service did not answer: the rating is stored unverified."
            );
            Purchase::Unknown
        }
        Err(_) => {
            tracing::warn!(
                budget_ms = VERIFY_BUDGET.as_millis(),
                "The orders service was too slow: the rating is stored unverified."
            );
            Purchase::Unknown
        }
    }
}

async fn find_purchase(
    orders: &OrderServiceClient<TracedChannel>,
    calls: &CallContext,
    account_id: &str,
    product_id: &str,
) -> Result<bool, tonic::Status> {
    let mut page_token = String::new();
    let mut read = 0;
    while read < MAX_ORDERS_READ {
        let request = ListOrdersRequest {
            owner: account_id.to_owned(),
            page_size: ORDERS_PAGE.min(MAX_ORDERS_READ - read),
            page_token,
        };
        let page = calls
            .call_idempotent("orders", orders, request, |mut client, r| async move {
                client.list_orders(r).await
            })
            .await?;
        let paid_with_product = page.orders.iter().any(|order| {
            PAID.iter().any(|state| *state as i32 == order.state)
                && order.lines.iter().any(|line| line.product_id == product_id)
        });
        if paid_with_product {
            return Ok(true);
        }
        read += u32::try_from(page.orders.len()).unwrap_or(u32::MAX);
        if page.next_page_token.is_empty() || page.orders.is_empty() {
            return Ok(false);
        }
        page_token = page.next_page_token;
    }
    Ok(false)
}
