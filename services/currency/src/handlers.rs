//! The gRPC handlers: request validation in front of [`Rates`].

use std::sync::Arc;

use boutique_money::Money;
use boutique_platform::RpcError;
use boutique_proto::{
    CurrencyConversionRequest, Empty, GetSupportedCurrenciesResponse,
    currency_service_server::CurrencyService,
};
use tonic::{Request, Response, Status};

use crate::rates::Rates;

#[derive(Debug, Clone)]
pub(crate) struct Currency {
    rates: Arc<Rates>,
}

impl Currency {
    pub(crate) fn new(rates: Arc<Rates>) -> Self {
        Self { rates }
    }
}

#[tonic::async_trait]
impl CurrencyService for Currency {
    async fn get_supported_currencies(
        &self,
        _request: Request<Empty>,
    ) -> Result<Response<GetSupportedCurrenciesResponse>, Status> {
        Ok(Response::new(GetSupportedCurrenciesResponse {
            currency_codes: self.rates.supported().map(str::to_owned).collect(),
        }))
    }

    async fn convert(
        &self,
        request: Request<CurrencyConversionRequest>,
    ) -> Result<Response<boutique_proto::Money>, Status> {
        let request = request.into_inner();
        let from = request
            .from
            .ok_or_else(|| RpcError::invalid("from is required"))?;
        // Malformed amounts (nanos out of range, mixed signs, a code that is
        // not three capitals) are the caller's fault; say which rule broke.
        let amount = Money::try_from(from).map_err(|e| RpcError::invalid(format!("from: {e}")))?;
        let result = self
            .rates
            .convert(&amount, &request.to_code)
            .map_err(RpcError::invalid)?;
        // Debug, not info: the frontend converts every price on every page.
        tracing::debug!(from = %amount, to = %result, "Converted.");
        Ok(Response::new(result.into()))
    }
}
