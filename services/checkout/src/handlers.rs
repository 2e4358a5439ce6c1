//! The gRPC handler for `hipstershop.CheckoutService`: validate, then run
//! the order in its own task.

use std::{sync::Arc, time::Duration};

use boutique_platform::{
    RpcError,
    call::CallContext,
    telemetry::trace::{KeyValue, annotate, attr, in_current_context},
};
use boutique_proto::{
    PlaceOrderRequest, PlaceOrderResponse, checkout_service_server::CheckoutService,
};
use tonic::{Request, Response, Status, metadata::MetadataMap};

use crate::{
    downstream::SupportedCurrencies,
    metrics::CheckoutStage,
    place::{Attempt, Checkout},
    validate::validate,
};

/// The metadata key a client may set to name an order attempt.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The longest `idempotency-key` accepted (the order store's limit).
const MAX_KEY_LEN: usize = 255;

#[derive(Debug, Clone)]
pub(crate) struct CheckoutHandler {
    pub(crate) checkout: Arc<Checkout>,
    pub(crate) currencies: Arc<SupportedCurrencies>,
    /// How long each downstream call may take when the caller set no deadline.
    pub(crate) call_timeout: Duration,
}

#[tonic::async_trait]
impl CheckoutService for CheckoutHandler {
    async fn place_order(
        &self,
        request: Request<PlaceOrderRequest>,
    ) -> Result<Response<PlaceOrderResponse>, Status> {
        let calls = CallContext::from_metadata(request.metadata(), self.call_timeout);
        let invalid = |error: RpcError| {
            self.checkout
                .metrics
                .checkout_failed(CheckoutStage::Validation);
            error
        };
        let key = idempotency_key(request.metadata()).map_err(invalid)?;
        let request = validate(request.into_inner()).map_err(invalid)?;
        annotate([KeyValue::new(attr::USER_CURRENCY, request.currency.clone())]);
        self.currencies
            .check(&self.checkout.clients.currency, &calls, &request.currency)
            .await
            .map_err(|error| {
                let stage = match error {
                    RpcError::InvalidArgument(_) => CheckoutStage::Validation,
                    _ => CheckoutStage::Currency,
                };
                self.checkout.metrics.checkout_failed(stage);
                error
            })?;
        let attempt = Attempt {
            calls,
            request,
            key,
        };
        // The order runs in its own task: if the caller hangs up mid-way, the
        // order still reaches a recorded state instead of being dropped
        // between charge and shipment.
        let checkout = self.checkout.clone();
        let order = tokio::spawn(in_current_context(checkout.place(attempt)))
            .await
            .map_err(RpcError::internal)??;
        Ok(Response::new(PlaceOrderResponse { order: Some(order) }))
    }
}

/// The client's `idempotency-key`, if it sent a non-blank one.
pub(crate) fn idempotency_key(metadata: &MetadataMap) -> Result<Option<String>, RpcError> {
    let Some(value) = metadata.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .map_err(|_| RpcError::invalid("idempotency-key must be visible ASCII"))?
        .trim();
    if key.len() > MAX_KEY_LEN {
        return Err(RpcError::invalid(format!(
            "idempotency-key is longer than {MAX_KEY_LEN} characters"
        )));
    }
    Ok((!key.is_empty()).then(|| key.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_idempotency_key() {
        let mut metadata = MetadataMap::new();
        assert_eq!(idempotency_key(&metadata).unwrap(), None);
        metadata.insert(IDEMPOTENCY_KEY, " order-1 ".parse().unwrap());
        assert_eq!(
            idempotency_key(&metadata).unwrap().as_deref(),
            Some("order-1")
        );
        metadata.insert(IDEMPOTENCY_KEY, "".parse().unwrap());
        assert_eq!(idempotency_key(&metadata).unwrap(), None);
        metadata.insert(IDEMPOTENCY_KEY, "x".repeat(256).parse().unwrap());
        assert!(idempotency_key(&metadata).is_err());
    }
}
