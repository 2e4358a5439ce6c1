//! The gRPC handler: bound the request, select, convert.

use boutique_flags::Flags;
use boutique_platform::RpcError;
use boutique_proto::{AdRequest, AdResponse, ad_service_server::AdService};
use tonic::{Request, Response, Status};

use crate::ads::select_ads;

/// The most context keys one request may carry. The frontend sends a
/// product's categories (one or two); the bound keeps a huge request from
/// producing a response many times its size.
pub const MAX_CONTEXT_KEYS: usize = 100;

#[derive(Debug, Clone)]
pub(crate) struct Ads {
    pub(crate) flags: Flags,
}

#[tonic::async_trait]
impl AdService for Ads {
    async fn get_ads(&self, request: Request<AdRequest>) -> Result<Response<AdResponse>, Status> {
        let keys = request.into_inner().context_keys;
        if keys.len() > MAX_CONTEXT_KEYS {
            return Err(RpcError::invalid(format!(
                "{} context keys given; at most {MAX_CONTEXT_KEYS} are allowed",
                keys.len()
            ))
            .into());
        }
        crate::faults::apply(&self.flags).await?;
        // The thread-local generator is not `Send`, so it lives only in this
        // synchronous block, never across an await.
        let ads: Vec<_> = select_ads(&keys, &mut rand::rng())
            .into_iter()
            .map(|entry| entry.to_ad())
            .collect();
        tracing::debug!(keys = keys.len(), ads = ads.len(), "Served ads.");
        Ok(Response::new(AdResponse { ads }))
    }
}
