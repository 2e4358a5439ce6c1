//! Ratings: `GET /api/v1/products/{id}/ratings` (a product's reviews, most
//! recently written first, paged), and the signed-in account's own rating,
//! `PUT` and `DELETE /api/v1/products/{id}/ratings/mine`.
//!
//! Reviews carry no account id, name or email: only whether they are the
//! caller's own (`mine`) and whether the writer bought the product
//! (`verified_purchase`). Text is plain text as written; whoever shows it
//! must escape it, as the storefront's pages do.

use axum::{
    Json,
    extract::{
        Path, Query, State,
        rejection::{PathRejection, QueryRejection},
    },
    http::StatusCode,
};
use boutique_proto::boutique::ratings::v1::{Rating, RatingSummary};
use serde::{Deserialize, Serialize};
use tonic::Code as GrpcCode;
use utoipa::ToSchema;

use crate::{
    State as AppState,
    api::{
        caller::ApiCaller,
        extract::{self, ApiJson},
        problem::{ApiError, Code, FieldProblem, Problem},
    },
    backends::BackendError,
    orders::{rfc3339, utc},
    ratings::{self, MAX_TEXT_CHARS, WriteRefusal},
    validate::is_product_id,
};

/// The most reviews one page holds (the ratings service's bound).
const MAX_PAGE_SIZE: u32 = 50;

/// The longest page token accepted.
const MAX_TOKEN_LEN: usize = 512;

/// A product's ratings at a glance.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = RatingSummary)]
pub(crate) struct SummaryJson {
    /// How many ratings.
    #[schema(example = 3)]
    count: i64,
    /// Their stars' sum: the exact average is `stars_sum / count`.
    #[schema(example = 13)]
    stars_sum: i64,
    /// The average, rounded to two decimals; `null` without ratings.
    #[schema(example = 4.33)]
    average: Option<f64>,
}

impl From<&RatingSummary> for SummaryJson {
    fn from(summary: &RatingSummary) -> Self {
        Self {
            count: summary.count,
            stars_sum: summary.stars_sum,
            average: (summary.count > 0).then(|| f64::from(summary.average_centistars) / 100.0),
        }
    }
}

/// One rating.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Rating)]
pub(crate) struct RatingJson {
    /// 1 to 5.
    #[schema(example = 4, minimum = 1, maximum = 5)]
    stars: i32,
    /// Plain text as written (may be empty); escape it wherever it is shown.
    text: String,
    /// The writer had a paid order with the product when they wrote it.
    verified_purchase: bool,
    /// Written by the caller.
    mine: bool,
    /// RFC 3339, UTC.
    created_at: String,
    /// RFC 3339, UTC.
    updated_at: String,
}

/// A page of a product's ratings.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = RatingPage)]
pub(crate) struct RatingPageJson {
    ratings: Vec<RatingJson>,
    /// Pass it as `page_token` for the next page; `null` on the last page.
    next_page_token: Option<String>,
}

/// Rate a product.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct PutRatingBody {
    /// 1 to 5.
    #[schema(example = 5, minimum = 1, maximum = 5)]
    stars: i64,
    /// An optional review, plain text, at most 2000 characters (newlines and
    /// tabs allowed, no other control characters).
    #[schema(example = "Sturdy and light.", max_length = 2000)]
    #[serde(default)]
    text: Option<String>,
}

/// A product's ratings, most recently written first.
#[utoipa::path(
    get,
    path = "/api/v1/products/{id}/ratings",
    tag = "ratings",
    operation_id = "listRatings",
    security((), ("bearer" = [])),
    params(
        ("id" = String, Path, description = "The product's id.", example = "OLJCESPC7Z"),
        ("page_size" = Option<u32>, Query, description = "Ratings per page, 1 to 50 (default 10).", minimum = 1, maximum = 50),
        ("page_token" = Option<String>, Query, description = "The `next_page_token` of the previous page."),
    ),
    responses(
        (status = 200, description = "A page of ratings.", body = RatingPageJson),
        (status = 400, description = "A bad `page_size` or `page_token`.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "A bearer token was sent and it no longer works.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The ratings or catalog service is not answering.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<RatingPageJson>, ApiError> {
    let id = product_id(id)?;
    let fields = extract::query(query)?;
    let mut errors = Vec::new();
    let page_size = match fields.get("page_size") {
        "" => 10,
        raw => match raw.parse::<u32>() {
            Ok(size @ 1..=MAX_PAGE_SIZE) => size,
            _ => {
                errors.push(("page_size", "must be a whole number from 1 to 50"));
                0
            }
        },
    };
    let page_token = fields.get("page_token");
    if page_token.len() > MAX_TOKEN_LEN || !page_token.bytes().all(|b| b.is_ascii_graphic()) {
        errors.push(("page_token", "is not a token this API gave out"));
    }
    if !errors.is_empty() {
        return Err(ApiError::fields(
            Code::InvalidParameter,
            errors
                .into_iter()
                .map(|(field, reason)| FieldProblem {
                    field: field.to_owned(),
                    reason: reason.to_owned(),
                })
                .collect(),
        ));
    }
    let backends = &state.backends;
    let (product, listed) = tokio::join!(
        backends.get_product(&id),
        backends.list_ratings(&id, page_size, page_token)
    );
    product?;
    let listed = listed.map_err(|error| match error.code() {
        Some(GrpcCode::InvalidArgument) => ApiError::field(
            Code::InvalidParameter,
            "page_token",
            "is not a token this API gave out for this product",
        ),
        _ => error.into(),
    })?;
    let mine = caller.account().ok().map(|account| account.id.as_str());
    Ok(Json(RatingPageJson {
        ratings: listed
            .ratings
            .iter()
            .map(|rating| rating_json(rating, mine))
            .collect::<Result<_, _>>()?,
        next_page_token: Some(listed.next_page_token).filter(|token| !token.is_empty()),
    }))
}

/// Rate a product, or change the caller's rating of it.
#[utoipa::path(
    put,
    path = "/api/v1/products/{id}/ratings/mine",
    tag = "ratings",
    operation_id = "putMyRating",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The product's id.", example = "OLJCESPC7Z")),
    request_body(content = PutRatingBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The rating as it is now.", body = RatingJson),
        (status = 400, description = "The body is not JSON.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "UNAUTHENTICATED: no token, or one that no longer works.", body = Problem, content_type = "application/problem+json",
            headers(("WWW-Authenticate" = String, description = "The bearer challenge (RFC 6750)."))),
        (status = 403, description = "A browser sent it from another site.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product.", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large.", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not `application/json`.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_FAILED: stars outside 1 to 5, text too long or with control characters.", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "RATING_RATE_LIMITED: too many rating writes; nothing was written.", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = String, description = "Seconds to wait."))),
        (status = 503, description = "The ratings or catalog service is not answering.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn put(
    State(state): State<AppState>,
    caller: ApiCaller,
    id: Result<Path<String>, PathRejection>,
    ApiJson(body): ApiJson<PutRatingBody>,
) -> Result<Json<RatingJson>, ApiError> {
    let id = product_id(id)?;
    let account = caller.account()?;
    let (stars, text) = check_rating(&body)?;
    state.backends.get_product(&id).await?;
    let rating = ratings::put(&state, &account.id, &id, stars, &text)
        .await
        .map_err(write_error)?;
    Ok(Json(rating_json(&rating, Some(&account.id))?))
}

/// The stars and the review (normalised, see [`ratings::normalise_text`]) of
/// a rating body, or the 422 naming each field that breaks its rule. The
/// ratings service checks the text's characters itself.
pub(crate) fn check_rating(body: &PutRatingBody) -> Result<(i32, String), ApiError> {
    let text = ratings::normalise_text(body.text.as_deref().unwrap_or_default());
    let mut errors = Vec::new();
    let stars = match i32::try_from(body.stars) {
        Ok(stars @ 1..=5) => stars,
        _ => {
            errors.push(FieldProblem {
                field: "/stars".to_owned(),
                reason: "must be a whole number from 1 to 5".to_owned(),
            });
            0
        }
    };
    if text.chars().count() > MAX_TEXT_CHARS {
        errors.push(FieldProblem {
            field: "/text".to_owned(),
            reason: format!("may be at most {MAX_TEXT_CHARS} characters"),
        });
    }
    if !errors.is_empty() {
        return Err(ApiError::fields(Code::ValidationFailed, errors));
    }
    Ok((stars, text))
}

/// Delete the caller's rating of a product (none is fine).
#[utoipa::path(
    delete,
    path = "/api/v1/products/{id}/ratings/mine",
    tag = "ratings",
    operation_id = "deleteMyRating",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The product's id.", example = "OLJCESPC7Z")),
    responses(
        (status = 204, description = "The caller has no rating of the product (any there was is deleted)."),
        (status = 401, description = "UNAUTHENTICATED: no token, or one that no longer works.", body = Problem, content_type = "application/problem+json",
            headers(("WWW-Authenticate" = String, description = "The bearer challenge (RFC 6750)."))),
        (status = 403, description = "A browser sent it from another site.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product.", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "RATING_RATE_LIMITED: too many rating writes; nothing was deleted.", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = String, description = "Seconds to wait."))),
        (status = 503, description = "The ratings or catalog service is not answering.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: ApiCaller,
    id: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let id = product_id(id)?;
    let account = caller.account()?;
    state.backends.get_product(&id).await?;
    state
        .backends
        .delete_rating(&account.id, &id)
        .await
        .map_err(write_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// A product id from the path, or a 404 for anything that cannot be one.
fn product_id(id: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    match id {
        Ok(Path(id)) if is_product_id(&id) => Ok(id),
        _ => Err(ApiError::new(Code::NotFound, "no product has this id")),
    }
}

fn rating_json(rating: &Rating, caller: Option<&str>) -> Result<RatingJson, ApiError> {
    let at = |ms| {
        utc(ms)
            .map(rfc3339)
            .map_err(|_| ApiError::internal(format!("the ratings service sent a bad time: {ms}")))
    };
    Ok(RatingJson {
        stars: rating.stars,
        text: rating.text.clone(),
        verified_purchase: rating.verified_purchase,
        mine: caller == Some(rating.account_id.as_str()),
        created_at: at(rating.created_at_ms)?,
        updated_at: at(rating.updated_at_ms)?,
    })
}

fn write_error(error: BackendError) -> ApiError {
    match ratings::write_refusal(&error) {
        WriteRefusal::Invalid(message) => ApiError::new(Code::ValidationFailed, message),
        WriteRefusal::RateLimited(seconds) => ApiError::new(
            Code::RatingRateLimited,
            format!("too many rating writes; retry in {seconds} seconds"),
        )
        .retry_after(seconds),
        WriteRefusal::Unavailable | WriteRefusal::Internal => error.into(),
    }
}

/// Each product's summary for the product list and page (`None` when the
/// ratings service did not answer).
pub(crate) async fn summaries(
    state: &AppState,
    product_ids: &[&str],
) -> Option<std::collections::HashMap<String, SummaryJson>> {
    ratings::summaries(state, product_ids).await.map(|all| {
        all.iter()
            .map(|(id, summary)| (id.clone(), SummaryJson::from(summary)))
            .collect()
    })
}
