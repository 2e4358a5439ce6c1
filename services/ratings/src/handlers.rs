//! The gRPC handler of `boutique.ratings.v1.RatingsService`: checks the
//! request, admits the write under the account's limit, asks the catalog and
//! the orders service, writes through the rating book, and says what
//! happened in status codes and reasons.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use boutique_platform::{RpcError, call::CallContext, telemetry::grpc::TracedChannel};
use boutique_proto::{
    boutique::{
        orders::v1::order_service_client::OrderServiceClient,
        ratings::v1::{
            self as pb, DeleteRatingRequest, DeleteRatingResponse, GetRatingRequest,
            GetSummariesRequest, GetSummariesResponse, ListRatingsRequest, ListRatingsResponse,
            PutRatingRequest, RatingSummary, ratings_service_server::RatingsService,
        },
    },
    product_catalog_service_client::ProductCatalogServiceClient,
    reasons,
};
use boutique_store::{
    RatingBook, StoreError,
    ratings::{
        NewRating, Put, Rating,
        limit::{Admission, WriteLimit},
    },
};
use tonic::{Request, Response, Status};

use crate::{
    metrics::{Action, RatingsMetrics},
    summaries::Summaries,
    validate,
    verify::{self, Purchase},
};

/// How long a call to the catalog or the orders service may take when our
/// caller set no deadline.
const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub(crate) struct Ratings {
    pub(crate) book: RatingBook,
    pub(crate) summaries: Summaries,
    pub(crate) catalog: ProductCatalogServiceClient<TracedChannel>,
    pub(crate) orders: OrderServiceClient<TracedChannel>,
    pub(crate) write_limit: Option<WriteLimit>,
    pub(crate) metrics: RatingsMetrics,
}

/// The store's failure as the caller sees it: its own mistake, or an outage
/// (logged here with the whole cause, never shown).
fn store_error(error: StoreError) -> RpcError {
    match error {
        StoreError::Invalid { .. } => RpcError::InvalidArgument(error.to_string()),
        error => {
            tracing::error!(
                error = format!("{:#}", anyhow::Error::from(error)),
                "The ratings store failed."
            );
            RpcError::Unavailable("the ratings store is unavailable".to_owned())
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn rating_to_wire(rating: &Rating) -> pb::Rating {
    pb::Rating {
        account_id: rating.account_id.clone(),
        product_id: rating.product_id.clone(),
        stars: i32::from(rating.stars),
        text: rating.text.clone(),
        verified_purchase: rating.verified_purchase,
        created_at_ms: rating.created_at_ms,
        updated_at_ms: rating.updated_at_ms,
    }
}

impl Ratings {
    /// Counts a write by `account_id` against its limit, or refuses it with
    /// `RESOURCE_EXHAUSTED` and the reason `RATING_RATE_LIMITED`.
    async fn admit(&self, account_id: &str) -> Result<(), RpcError> {
        let Some(limit) = self.write_limit else {
            return Ok(());
        };
        match self
            .book
            .admit_write(account_id, now_ms(), limit)
            .await
            .map_err(store_error)?
        {
            Admission::Allowed => Ok(()),
            Admission::Limited { retry_after_ms } => {
                self.metrics.rate_limited();
                tracing::info!(retry_after_ms, "A rating write was refused: too many.");
                Err(RpcError::ResourceExhausted(format!(
                    "too many rating changes: at most {} per {}s; try again in {}s",
                    limit.writes,
                    limit.period.as_secs(),
                    (retry_after_ms + 999) / 1000
                ))
                .with_reason(
                    reasons::RATING_RATE_LIMITED,
                    [("retry_after_ms", retry_after_ms.to_string())],
                ))
            }
        }
    }
}

#[tonic::async_trait]
impl RatingsService for Ratings {
    async fn put_rating(
        &self,
        request: Request<PutRatingRequest>,
    ) -> Result<Response<pb::Rating>, Status> {
        let calls = CallContext::from_metadata(request.metadata(), DEFAULT_CALL_TIMEOUT);
        let request = request.into_inner();
        let stars = validate::put(&request)?;
        self.admit(&request.account_id).await?;
        // Independent questions, asked together.
        let (exists, purchase) = tokio::join!(
            verify::product_exists(&self.catalog, &calls, &request.product_id),
            verify::purchase(
                &self.orders,
                &calls,
                &request.account_id,
                &request.product_id
            ),
        );
        exists?;
        let new = NewRating {
            account_id: request.account_id,
            product_id: request.product_id,
            stars,
            text: request.text,
            verified_purchase: purchase == Purchase::Verified,
        };
        let put = self.book.put(&new).await.map_err(store_error)?;
        self.summaries.invalidate(&new.product_id).await;
        self.metrics.written(match put {
            Put::Created(_) => Action::Put,
            Put::Updated { .. } => Action::Update,
        });
        tracing::debug!(
            stars,
            verified = put.rating().verified_purchase,
            "A rating was written."
        );
        Ok(Response::new(rating_to_wire(put.rating())))
    }

    async fn delete_rating(
        &self,
        request: Request<DeleteRatingRequest>,
    ) -> Result<Response<DeleteRatingResponse>, Status> {
        let request = request.into_inner();
        validate::key(&request.account_id, &request.product_id)?;
        self.admit(&request.account_id).await?;
        let deleted = self
            .book
            .delete(&request.account_id, &request.product_id)
            .await
            .map_err(store_error)?;
        if deleted.is_some() {
            self.summaries.invalidate(&request.product_id).await;
            self.metrics.written(Action::Delete);
        }
        Ok(Response::new(DeleteRatingResponse {
            deleted: deleted.is_some(),
        }))
    }

    async fn get_rating(
        &self,
        request: Request<GetRatingRequest>,
    ) -> Result<Response<pb::Rating>, Status> {
        let request = request.into_inner();
        validate::key(&request.account_id, &request.product_id)?;
        let rating = self
            .book
            .get(&request.account_id, &request.product_id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| {
                RpcError::NotFound(format!(
                    "account {} has not rated product {}",
                    request.account_id, request.product_id
                ))
            })?;
        Ok(Response::new(rating_to_wire(&rating)))
    }

    async fn list_ratings(
        &self,
        request: Request<ListRatingsRequest>,
    ) -> Result<Response<ListRatingsResponse>, Status> {
        let request = request.into_inner();
        let (size, after) = validate::list(&request)?;
        // One more than the page, to know whether another page follows.
        let mut ratings = self
            .book
            .list_by_product(
                &request.product_id,
                size + 1,
                after.as_ref().map(|(ms, account)| (*ms, account.as_str())),
            )
            .await
            .map_err(store_error)?;
        let more = ratings.len() > size as usize;
        ratings.truncate(size as usize);
        let next_page_token = match ratings.last() {
            Some(last) if more => {
                validate::page_token(&request.product_id, last.updated_at_ms, &last.account_id)
            }
            _ => String::new(),
        };
        Ok(Response::new(ListRatingsResponse {
            ratings: ratings.iter().map(rating_to_wire).collect(),
            next_page_token,
        }))
    }

    async fn get_summaries(
        &self,
        request: Request<GetSummariesRequest>,
    ) -> Result<Response<GetSummariesResponse>, Status> {
        let ids = request.into_inner().product_ids;
        validate::summary_ids(&ids)?;
        let summaries = self.summaries.get(&ids).await.map_err(store_error)?;
        Ok(Response::new(GetSummariesResponse {
            summaries: summaries
                .into_iter()
                .map(|summary| RatingSummary {
                    average_centistars: summary.average_centistars(),
                    product_id: summary.product_id,
                    count: summary.count,
                    stars_sum: summary.stars_sum,
                })
                .collect(),
        }))
    }
}
