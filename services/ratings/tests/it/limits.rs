//! The per-account write limit: puts and deletes count together; beyond the
//! limit, RESOURCE_EXHAUSTED with the reason RATING_RATE_LIMITED; other
//! accounts and reads are unaffected.

use std::time::Duration;

use boutique_platform::error::error_reason;
use boutique_proto::{
    boutique::ratings::v1::{DeleteRatingRequest, GetSummariesRequest},
    reasons,
};
use boutique_store::ratings::limit::WriteLimit;
use tonic::Code;

use crate::helpers::{Backend, SUNGLASSES, Shop, TANK_TOP, account, on_both_backends};

on_both_backends!(writes_beyond_the_limit_are_refused_with_the_reason);

async fn writes_beyond_the_limit_are_refused_with_the_reason(backend: Backend) {
    // Three writes an hour: a slow test machine cannot earn a fourth.
    let limit = WriteLimit {
        writes: 3,
        period: Duration::from_secs(3600),
    };
    let Some(mut shop) = Shop::start(backend, |config| config.write_limit = Some(limit)).await
    else {
        return;
    };
    let (ana, ben) = (account(), account());
    shop.put(&ana, SUNGLASSES, 4, "").await.unwrap();
    shop.put(&ana, SUNGLASSES, 5, "").await.unwrap();
    shop.client
        .delete_rating(DeleteRatingRequest {
            account_id: ana.clone(),
            product_id: SUNGLASSES.to_owned(),
        })
        .await
        .unwrap();

    let status = shop.put(&ana, TANK_TOP, 3, "").await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains("too many"),
        "{}",
        status.message()
    );
    let (reason, metadata) = error_reason(&status).expect("a reason");
    assert_eq!(reason, reasons::RATING_RATE_LIMITED);
    let retry_after_ms: i64 = metadata["retry_after_ms"].parse().unwrap();
    assert!(
        retry_after_ms > 0 && retry_after_ms <= 1_200_000,
        "{retry_after_ms}"
    );
    // Deletes are limited too; nothing was written by the refused calls.
    let status = shop
        .client
        .delete_rating(DeleteRatingRequest {
            account_id: ana.clone(),
            product_id: TANK_TOP.to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(shop.metric("boutique_ratings_rate_limited_total", &[]), 2.0);

    // Another account writes; anyone reads.
    shop.put(&ben, TANK_TOP, 2, "").await.unwrap();
    let summaries = shop
        .client
        .get_summaries(GetSummariesRequest {
            product_ids: vec![TANK_TOP.to_owned(), SUNGLASSES.to_owned()],
        })
        .await
        .unwrap()
        .into_inner()
        .summaries;
    assert_eq!((summaries[0].count, summaries[1].count), (1, 0));
    shop.stop().await;
}
