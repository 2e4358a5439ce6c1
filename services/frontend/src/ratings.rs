//! What the storefront reads from and writes to the ratings service, for the
//! product pages and the JSON API alike.
//!
//! - **Summaries are a nicety**: a product page asks for its product's count
//!   and average in one `GetSummaries` call beside its other calls, with a
//!   short deadline; when the ratings service does not answer in time the
//!   page is served without them (and the API's `rating` is `null`).
//! - **Writes are the signed-in account's**: the storefront passes the
//!   account id the accounts service vouched for; the ratings service trusts
//!   it (only the storefront may reach it).
//! - **Text is plain text**: sent as written (a form's `\r\n` made `\n`),
//!   shown escaped by every template.

use std::collections::HashMap;

use boutique_platform::error::error_reason;
use boutique_proto::{
    boutique::ratings::v1::{PutRatingRequest, Rating, RatingSummary},
    reasons,
};
use tonic::Code;

use crate::{
    State,
    backends::{Backend, BackendError},
};

/// The longest review the ratings service keeps, in characters.
pub(crate) const MAX_TEXT_CHARS: usize = 2000;

/// Reviews per page on a product page.
pub(crate) const PAGE_SIZE: u32 = 5;

/// Each product's summary, by id (one product's from the cache); `None`
/// when the ratings service did not answer (logged).
pub(crate) async fn summaries(
    state: &State,
    product_ids: &[&str],
) -> Option<HashMap<String, RatingSummary>> {
    let summaries = match product_ids {
        [] => return Some(HashMap::new()),
        // A product page: its summary is cached.
        [one] => state.backends.rating_summary(one).await.map(|s| vec![s]),
        many => {
            let ids = many.iter().map(|id| (*id).to_owned()).collect();
            state.backends.rating_summaries(ids).await
        }
    };
    match summaries {
        Ok(summaries) => Some(
            summaries
                .into_iter()
                .map(|summary| (summary.product_id.clone(), summary))
                .collect(),
        ),
        Err(error) => {
            tracing::warn!(error = %error, "No ratings summary for this page.");
            None
        }
    }
}

/// A review as written in a form or a JSON body: `\r\n` and lone `\r`
/// become `\n` (what the ratings service accepts), outer whitespace goes.
pub(crate) fn normalise_text(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .trim()
        .to_owned()
}

/// How a failed ratings write reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WriteRefusal {
    /// Stars, text or product refused: the service's words (which name the
    /// field and the rule).
    Invalid(String),
    /// Too many writes: seconds to wait.
    RateLimited(u64),
    /// The ratings service is not answering.
    Unavailable,
    /// Anything else.
    Internal,
}

/// Reads a failed `PutRating`/`DeleteRating` by its code and reason.
pub(crate) fn write_refusal(error: &BackendError) -> WriteRefusal {
    let BackendError::Status {
        backend: Backend::Ratings,
        status,
    } = error
    else {
        return WriteRefusal::Internal;
    };
    if let Some((reason, metadata)) = error_reason(status)
        && reason == reasons::RATING_RATE_LIMITED
    {
        let ms = metadata
            .get("retry_after_ms")
            .and_then(|ms| ms.parse::<u64>().ok())
            .unwrap_or(6_000);
        return WriteRefusal::RateLimited(ms.div_ceil(1000).max(1));
    }
    match status.code() {
        Code::InvalidArgument => {
            WriteRefusal::Invalid(status.message().chars().take(300).collect())
        }
        _ if error.is_unavailable() => WriteRefusal::Unavailable,
        _ => WriteRefusal::Internal,
    }
}

/// Writes the account's rating of the product.
pub(crate) async fn put(
    state: &State,
    account_id: &str,
    product_id: &str,
    stars: i32,
    text: &str,
) -> Result<Rating, BackendError> {
    state
        .backends
        .put_rating(PutRatingRequest {
            account_id: account_id.to_owned(),
            product_id: product_id.to_owned(),
            stars,
            text: normalise_text(text),
        })
        .await
}

#[cfg(test)]
mod tests {
    use boutique_platform::RpcError;
    use tonic::Status;

    use super::*;

    fn refused(status: Status) -> WriteRefusal {
        write_refusal(&BackendError::Status {
            backend: Backend::Ratings,
            status,
        })
    }

    #[test]
    fn reads_write_refusals() {
        let limited = RpcError::ResourceExhausted("slow down".to_owned()).with_reason(
            reasons::RATING_RATE_LIMITED,
            [("retry_after_ms", "4200".to_owned())],
        );
        assert_eq!(refused(Status::from(limited)), WriteRefusal::RateLimited(5));
        assert_eq!(
            refused(Status::invalid_argument("stars must be from 1 to 5")),
            WriteRefusal::Invalid("stars must be from 1 to 5".to_owned())
        );
        assert_eq!(refused(Status::unavailable("x")), WriteRefusal::Unavailable);
        assert_eq!(refused(Status::internal("x")), WriteRefusal::Internal);
    }

    #[test]
    fn normalises_form_text() {
        assert_eq!(normalise_text("  a\r\nb\rc \n"), "a\nb\nc");
    }
}
