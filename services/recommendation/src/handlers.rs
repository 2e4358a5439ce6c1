//! The gRPC handler for `hipstershop.RecommendationService`.

use std::{sync::Arc, time::Duration};

use boutique_flags::{Flags, leak::Leak, names::RECOMMENDATION_CACHE_FAILURE};
use boutique_platform::telemetry::grpc::TracedChannel;
use boutique_platform::{RpcError, call::CallContext};
use boutique_proto::{
    Empty, ListRecommendationsRequest, ListRecommendationsResponse,
    product_catalog_service_client::ProductCatalogServiceClient,
    recommendation_service_server::RecommendationService,
};
use tonic::{Request, Response, Status};

use crate::{
    cache::CatalogCache,
    pick::{MAX_RECOMMENDATIONS, recommend},
};

/// How long the catalog may take when our caller set no deadline. Generous,
/// because a demo may inject seconds of `EXTRA_LATENCY` into the catalog.
pub(crate) const DEFAULT_CATALOG_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub(crate) struct Recommender {
    pub(crate) catalog: ProductCatalogServiceClient<TracedChannel>,
    /// Shared by every clone of the handler.
    pub(crate) cache: CatalogCache,
    pub(crate) flags: Flags,
    /// The cache that leaks while `recommendationCacheFailure` is on.
    pub(crate) leak: Leak,
}

impl Recommender {
    /// Every product id in the catalog, reused for the cache TTL (upstream
    /// asked on every request).
    async fn catalog_ids(&self, calls: &CallContext) -> Result<Arc<Vec<String>>, RpcError> {
        self.cache
            .get_or_try((), || self.fetch_catalog_ids(calls))
            .await
            .map_err(|status| RpcError::from_downstream("product catalog", &status))
    }

    /// Asks the catalog, within the caller's deadline and carrying its trace
    /// context, retried under the catalog's policy (a read). A failure stays
    /// a `Status` (which can be cloned) until every request that waited for
    /// this call has it.
    async fn fetch_catalog_ids(&self, calls: &CallContext) -> Result<Arc<Vec<String>>, Status> {
        let reply = calls
            .call_idempotent(
                "product catalog",
                &self.catalog,
                Empty {},
                |mut client, request| async move { client.list_products(request).await },
            )
            .await?;
        Ok(Arc::new(reply.products.into_iter().map(|p| p.id).collect()))
    }
}

#[tonic::async_trait]
impl RecommendationService for Recommender {
    async fn list_recommendations(
        &self,
        request: Request<ListRecommendationsRequest>,
    ) -> Result<Response<ListRecommendationsResponse>, Status> {
        let calls = CallContext::from_metadata(request.metadata(), DEFAULT_CATALOG_TIMEOUT);
        // `user_id` is ignored, as upstream: recommendations are not personal.
        let request = request.into_inner();
        let ids = self.catalog_ids(&calls).await?;
        if self.flags.is_configured() {
            if self.flags.bool(RECOMMENDATION_CACHE_FAILURE).await {
                // As the OpenTelemetry demo's broken cache: every call adds
                // the catalog again and a quarter of what is held already.
                let held = self.leak.held();
                let ids_size: usize = ids.iter().map(|id| id.len() + 24).sum();
                self.leak.grow(ids_size + held / 4);
            } else {
                self.leak.release();
            }
        }
        let product_ids = recommend(
            &mut rand::rng(),
            ids.iter().cloned(),
            &request.product_ids,
            MAX_RECOMMENDATIONS,
        );
        tracing::debug!(
            excluded = request.product_ids.len(),
            recommended = product_ids.len(),
            "Recommended products."
        );
        Ok(Response::new(ListRecommendationsResponse { product_ids }))
    }
}
