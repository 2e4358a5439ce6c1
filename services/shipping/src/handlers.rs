//! The gRPC handlers: request validation and the quote rule.

use boutique_money::Money;
use boutique_platform::RpcError;
use boutique_proto::{
    Address, CartItem, GetQuoteRequest, GetQuoteResponse, ShipOrderRequest, ShipOrderResponse,
    shipping_service_server::ShippingService,
};
use tonic::{Request, Response, Status};

use crate::tracking::tracking_id;

/// The flat rate for any non-empty shipment, in USD: 8.99.
const FLAT_RATE: (i64, i32) = (8, 990_000_000);

#[derive(Debug, Clone, Copy)]
pub(crate) struct Shipping;

#[tonic::async_trait]
impl ShippingService for Shipping {
    async fn get_quote(
        &self,
        request: Request<GetQuoteRequest>,
    ) -> Result<Response<GetQuoteResponse>, Status> {
        let request = request.into_inner();
        // The frontend asks for a quote before it knows the address, so an
        // address is optional here (as upstream).
        let items = count_items(&request.items)?;
        let cost = quote(items).map_err(RpcError::internal)?;
        tracing::debug!(items, cost = %cost, "Quoted shipping.");
        Ok(Response::new(GetQuoteResponse {
            cost_usd: Some(cost.into()),
        }))
    }

    async fn ship_order(
        &self,
        request: Request<ShipOrderRequest>,
    ) -> Result<Response<ShipOrderResponse>, Status> {
        let request = request.into_inner();
        let address = request
            .address
            .as_ref()
            .ok_or_else(|| RpcError::invalid("address is required"))?;
        validate_address(address)?;
        if count_items(&request.items)? == 0 {
            return Err(RpcError::invalid("there is nothing to ship: items are empty").into());
        }
        let tracking_id = tracking_id(address);
        tracing::info!(tracking_id = %tracking_id, "Shipped order.");
        Ok(Response::new(ShipOrderResponse { tracking_id }))
    }
}

/// Zero for nothing, the flat rate otherwise.
fn quote(items: i64) -> Result<Money, boutique_money::MoneyError> {
    if items == 0 {
        Money::zero("USD")
    } else {
        Money::new("USD", FLAT_RATE.0, FLAT_RATE.1)
    }
}

/// Total quantity, rejecting negative quantities.
fn count_items(items: &[CartItem]) -> Result<i64, RpcError> {
    items.iter().try_fold(0i64, |total, item| {
        if item.quantity < 0 {
            return Err(RpcError::invalid(format!(
                "quantity of {:?} is {}; it must not be negative",
                item.product_id, item.quantity
            )));
        }
        Ok(total + i64::from(item.quantity))
    })
}

fn validate_address(address: &Address) -> Result<(), RpcError> {
    let fields = [
        ("street_address", &address.street_address),
        ("city", &address.city),
        ("country", &address.country),
    ];
    match fields.iter().find(|(_, value)| value.trim().is_empty()) {
        Some((name, _)) => Err(RpcError::invalid(format!("address.{name} is required"))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_flat_rate() {
        assert!(quote(0).unwrap().is_zero());
        assert_eq!(
            quote(1).unwrap(),
            Money::new("USD", 8, 990_000_000).unwrap()
        );
        assert_eq!(quote(1000).unwrap(), quote(1).unwrap());
    }
}
