//! The gRPC handlers: request validation, then one store call each.

use std::sync::Arc;

use boutique_flags::{Flags, names::CART_FAILURE};
use boutique_platform::{
    RpcError,
    telemetry::trace::{KeyValue, annotate, attr},
};
use boutique_proto::{
    AddItemRequest, Cart as CartReply, CartItem, Empty, EmptyCartRequest, GetCartRequest,
    cart_service_server::CartService,
};
use tonic::{Request, Response, Status};

use crate::{
    metrics::CartMetrics,
    store::{CartStore, MAX_LINE_QUANTITY, StoreError},
};

/// The CartService implementation over any store.
#[derive(Debug, Clone)]
pub(crate) struct Cart {
    store: Arc<dyn CartStore>,
    metrics: CartMetrics,
    flags: Flags,
}

impl Cart {
    pub(crate) fn new(store: Arc<dyn CartStore>, metrics: CartMetrics, flags: Flags) -> Self {
        Self {
            store,
            metrics,
            flags,
        }
    }
}

#[tonic::async_trait]
impl CartService for Cart {
    async fn add_item(&self, request: Request<AddItemRequest>) -> Result<Response<Empty>, Status> {
        let request = request.into_inner();
        validate_user(&request.user_id)?;
        let item = validate_item(request.item.as_ref())?;
        annotate([
            KeyValue::new(attr::PRODUCT_ID, item.product_id.clone()),
            KeyValue::new(attr::QUANTITY, i64::from(item.quantity)),
        ]);
        self.store
            .add_item(&request.user_id, &item.product_id, item.quantity)
            .await
            .map_err(rpc_error)?;
        self.metrics.cart_item_added();
        tracing::debug!(product_id = %item.product_id, quantity = item.quantity, "Added to cart.");
        Ok(Response::new(Empty {}))
    }

    async fn get_cart(
        &self,
        request: Request<GetCartRequest>,
    ) -> Result<Response<CartReply>, Status> {
        let user_id = request.into_inner().user_id;
        validate_user(&user_id)?;
        let items = self.store.get_cart(&user_id).await.map_err(rpc_error)?;
        Ok(Response::new(CartReply { user_id, items }))
    }

    async fn empty_cart(
        &self,
        request: Request<EmptyCartRequest>,
    ) -> Result<Response<Empty>, Status> {
        let user_id = request.into_inner().user_id;
        validate_user(&user_id)?;
        if self.flags.fraction(CART_FAILURE).await {
            // As a store outage would answer, so the same alerts fire.
            return Err(Status::unavailable(
                "cart storage unreachable (flag cartFailure)",
            ));
        }
        self.store.empty_cart(&user_id).await.map_err(rpc_error)?;
        Ok(Response::new(Empty {}))
    }
}

fn validate_user(user_id: &str) -> Result<(), RpcError> {
    if user_id.is_empty() {
        return Err(RpcError::invalid("user_id is required"));
    }
    Ok(())
}

fn validate_item(item: Option<&CartItem>) -> Result<&CartItem, RpcError> {
    let item = item.ok_or_else(|| RpcError::invalid("item is required"))?;
    if item.product_id.is_empty() {
        return Err(RpcError::invalid("item.product_id is required"));
    }
    if !(1..=MAX_LINE_QUANTITY).contains(&item.quantity) {
        return Err(RpcError::invalid(format!(
            "item.quantity is {}; it must be from 1 to {MAX_LINE_QUANTITY}",
            item.quantity
        )));
    }
    Ok(item)
}

fn rpc_error(error: StoreError) -> RpcError {
    match error {
        StoreError::LineLimit { .. } | StoreError::Invalid(_) => RpcError::invalid(error),
        StoreError::Unavailable(reason) => {
            RpcError::Unavailable(format!("cart storage unavailable: {reason}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(product_id: &str, quantity: i32) -> CartItem {
        CartItem {
            product_id: product_id.into(),
            quantity,
        }
    }

    #[test]
    fn accepts_quantities_from_1_to_10000() {
        assert!(validate_item(Some(&item("A", 1))).is_ok());
        assert!(validate_item(Some(&item("A", 10_000))).is_ok());
        for bad in [0, -1, 10_001, i32::MIN, i32::MAX] {
            assert!(validate_item(Some(&item("A", bad))).is_err(), "{bad}");
        }
        assert!(validate_item(Some(&item("", 1))).is_err());
        assert!(validate_item(None).is_err());
    }

    #[test]
    fn storage_failures_say_so() {
        let status = Status::from(rpc_error(StoreError::unavailable("connection refused")));
        assert_eq!(status.code(), tonic::Code::Unavailable);
        assert_eq!(
            status.message(),
            "cart storage unavailable: connection refused"
        );
    }
}
