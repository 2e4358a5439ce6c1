//! The gRPC handlers for `hipstershop.ProductCatalogService`.

use std::time::Duration;

use boutique_flags::{Flags, names::PRODUCT_CATALOG_FAILURE};
use boutique_platform::RpcError;
use boutique_proto::{
    Empty, GetProductRequest, ListProductsResponse, Product, SearchProductsRequest,
    SearchProductsResponse, product_catalog_service_server::ProductCatalogService,
};
use tonic::{Request, Response, Status};

use crate::catalog::Catalog;

#[derive(Debug, Clone)]
pub(crate) struct CatalogService {
    pub(crate) catalog: Catalog,
    /// Injected before every call (`EXTRA_LATENCY`), for fault-injection demos.
    pub(crate) extra_latency: Duration,
    pub(crate) flags: Flags,
}

impl CatalogService {
    /// Waits out the configured latency. A tokio sleep, so a caller that gives
    /// up (deadline or cancel) drops the handler and frees it at once.
    async fn delay(&self) {
        if !self.extra_latency.is_zero() {
            tokio::time::sleep(self.extra_latency).await;
        }
    }
}

#[tonic::async_trait]
impl ProductCatalogService for CatalogService {
    async fn list_products(
        &self,
        _request: Request<Empty>,
    ) -> Result<Response<ListProductsResponse>, Status> {
        self.delay().await;
        Ok(Response::new(ListProductsResponse {
            products: self.catalog.products().to_vec(),
        }))
    }

    async fn get_product(
        &self,
        request: Request<GetProductRequest>,
    ) -> Result<Response<Product>, Status> {
        self.delay().await;
        let id = request.into_inner().id;
        let product = find(&self.catalog, &id)?;
        if self
            .flags
            .bool_in(PRODUCT_CATALOG_FAILURE, &[("product_id", id.as_str())])
            .await
        {
            return Err(Status::unavailable(format!(
                "product {id} is unavailable (flag productCatalogFailure)"
            )));
        }
        Ok(Response::new(product.clone()))
    }

    async fn search_products(
        &self,
        request: Request<SearchProductsRequest>,
    ) -> Result<Response<SearchProductsResponse>, Status> {
        self.delay().await;
        let query = request.into_inner().query;
        let results: Vec<Product> = self.catalog.search(&query).cloned().collect();
        tracing::debug!(query = %query, hits = results.len(), "Searched products.");
        Ok(Response::new(SearchProductsResponse { results }))
    }
}

fn find<'a>(catalog: &'a Catalog, id: &str) -> Result<&'a Product, RpcError> {
    if id.is_empty() {
        return Err(RpcError::invalid("product id is required"));
    }
    // The message matches upstream's wording, which clients may show or match.
    catalog
        .get(id)
        .ok_or_else(|| RpcError::NotFound(format!("no product with ID {id}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedded_catalog;

    #[test]
    fn finds_or_explains() {
        let catalog = embedded_catalog();
        assert_eq!(find(&catalog, "6E92ZMYYFZ").unwrap().name, "Mug");
        assert!(matches!(
            find(&catalog, "6e92zmyyfz"),
            Err(RpcError::NotFound(m)) if m == "no product with ID 6e92zmyyfz"
        ));
        assert!(matches!(
            find(&catalog, ""),
            Err(RpcError::InvalidArgument(_))
        ));
    }
}
