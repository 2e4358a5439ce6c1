//! The services checkout calls, and the cached list of supported currencies.

use std::{collections::HashSet, sync::Arc, time::Duration};

use boutique_platform::RpcError;
use boutique_platform::cache::TtlCache;
use boutique_platform::telemetry::grpc::TracedChannel;
use boutique_proto::{
    Empty,
    boutique::{
        orders::v1::order_service_client::OrderServiceClient,
        payment::v1::payment_ledger_client::PaymentLedgerClient,
    },
    cart_service_client::CartServiceClient,
    currency_service_client::CurrencyServiceClient,
    email_service_client::EmailServiceClient,
    payment_service_client::PaymentServiceClient,
    product_catalog_service_client::ProductCatalogServiceClient,
    shipping_service_client::ShippingServiceClient,
};
use tonic::Status;

use boutique_platform::call::CallContext;

/// Clients for every dependency. Cloning is cheap: they share channels.
#[derive(Debug, Clone)]
pub(crate) struct Clients {
    pub(crate) cart: CartServiceClient<TracedChannel>,
    pub(crate) catalog: ProductCatalogServiceClient<TracedChannel>,
    pub(crate) currency: CurrencyServiceClient<TracedChannel>,
    pub(crate) shipping: ShippingServiceClient<TracedChannel>,
    pub(crate) payment: PaymentServiceClient<TracedChannel>,
    /// Payment as if it could not be reached (every connection refused, with
    /// payment's guards): where charges go while `paymentUnreachable` is on.
    pub(crate) unreachable_payment: PaymentServiceClient<TracedChannel>,
    pub(crate) email: EmailServiceClient<TracedChannel>,
    /// The order records.
    pub(crate) orders: OrderServiceClient<TracedChannel>,
    /// Payment's ledger, for settling a charge whose answer was lost (on the
    /// payment channel; an upstream payment service answers UNIMPLEMENTED).
    pub(crate) ledger: PaymentLedgerClient<TracedChannel>,
}

/// How long the supported-currency list is trusted. The list only changes
/// when the currency service is redeployed with new rates, so a minute saves
/// a call per order at no real cost.
pub const CURRENCY_LIST_TTL: Duration = Duration::from_secs(60);

/// The currency service's list of codes, fetched on demand and kept briefly
/// (a platform [`TtlCache`]: when it expires under load, one call refreshes
/// it for every waiting order; a failed call is never kept).
#[derive(Debug)]
pub(crate) struct SupportedCurrencies {
    codes: TtlCache<(), Arc<HashSet<String>>>,
}

impl SupportedCurrencies {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            codes: TtlCache::new(ttl, 1),
        }
    }

    /// `INVALID_ARGUMENT` unless the currency service supports `code`.
    pub(crate) async fn check(
        &self,
        client: &CurrencyServiceClient<TracedChannel>,
        calls: &CallContext,
        code: &str,
    ) -> Result<(), RpcError> {
        let codes = self
            .codes
            .get_or_try((), || Self::fetch(client, calls))
            .await
            .map_err(|status| RpcError::from_downstream("currency", &status))?;
        if codes.contains(code) {
            Ok(())
        } else {
            Err(RpcError::invalid(format!(
                "user_currency {code:?} is not supported"
            )))
        }
    }

    /// Asks the currency service (a read, so retried under its policy). A
    /// failure stays a `Status` (which can be cloned) until every order that
    /// waited for this call has it.
    async fn fetch(
        client: &CurrencyServiceClient<TracedChannel>,
        calls: &CallContext,
    ) -> Result<Arc<HashSet<String>>, Status> {
        let reply = calls
            .call_idempotent(
                "currency",
                client,
                Empty {},
                |mut client, request| async move { client.get_supported_currencies(request).await },
            )
            .await?;
        Ok(Arc::new(reply.currency_codes.into_iter().collect()))
    }
}
