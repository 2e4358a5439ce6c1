//! Ratings over gRPC: put, update, get and delete; one rating per account
//! and product; summaries right after every write; pages newest first with
//! stable tokens; and every kind of bad input refused with INVALID_ARGUMENT.

use boutique_proto::boutique::ratings::v1::{
    DeleteRatingRequest, GetRatingRequest, GetSummariesRequest, ListRatingsRequest, Rating,
    RatingSummary,
};
use boutique_ratings::{MAX_PAGE, MAX_SUMMARIES};
use tonic::Code;

use crate::helpers::{
    Backend, SUNGLASSES, Shop, TANK_TOP, account, assert_invalid, on_both_backends,
};

on_both_backends!(
    ratings_are_put_updated_read_and_deleted_with_summaries_following,
    ratings_are_listed_newest_first_in_stable_pages,
    bad_input_is_refused_with_invalid_argument,
);

async fn summaries(shop: &mut Shop, ids: &[&str]) -> Vec<RatingSummary> {
    shop.client
        .get_summaries(GetSummariesRequest {
            product_ids: ids.iter().map(|id| (*id).to_owned()).collect(),
        })
        .await
        .unwrap()
        .into_inner()
        .summaries
}

/// `(count, stars_sum, average_centistars)` of one product.
async fn summary(shop: &mut Shop, id: &str) -> (i64, i64, u32) {
    let found = summaries(shop, &[id]).await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].product_id, id);
    (
        found[0].count,
        found[0].stars_sum,
        found[0].average_centistars,
    )
}

async fn get(shop: &mut Shop, account_id: &str, product_id: &str) -> Result<Rating, tonic::Status> {
    shop.client
        .get_rating(GetRatingRequest {
            account_id: account_id.to_owned(),
            product_id: product_id.to_owned(),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn delete(shop: &mut Shop, account_id: &str, product_id: &str) -> bool {
    shop.client
        .delete_rating(DeleteRatingRequest {
            account_id: account_id.to_owned(),
            product_id: product_id.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .deleted
}

async fn ratings_are_put_updated_read_and_deleted_with_summaries_following(backend: Backend) {
    let Some(mut shop) = Shop::start(backend, |_| {}).await else {
        return;
    };
    let (ana, ben, cai) = (account(), account(), account());
    // Read (and cached) before any rating: nothing yet.
    assert_eq!(summary(&mut shop, SUNGLASSES).await, (0, 0, 0));
    let status = get(&mut shop, &ana, SUNGLASSES).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");

    let created = shop.put(&ana, SUNGLASSES, 4, "Nice shades").await.unwrap();
    assert_eq!(
        (created.account_id.as_str(), created.product_id.as_str()),
        (ana.as_str(), SUNGLASSES)
    );
    assert_eq!((created.stars, created.text.as_str()), (4, "Nice shades"));
    assert!(!created.verified_purchase);
    assert_eq!(created.created_at_ms, created.updated_at_ms);
    assert_eq!(get(&mut shop, &ana, SUNGLASSES).await.unwrap(), created);
    // This replica's write shows at once, though the summary was cached.
    assert_eq!(summary(&mut shop, SUNGLASSES).await, (1, 4, 400));

    // Markup is plain text here: stored and returned verbatim (the page
    // that shows it escapes it).
    let markup = "<b>bold</b> <script>alert(\"x\")</script> &amp; 'quotes'\n\tindented";
    let stored = shop.put(&ben, SUNGLASSES, 5, markup).await.unwrap();
    assert_eq!(stored.text, markup);
    assert_eq!(get(&mut shop, &ben, SUNGLASSES).await.unwrap().text, markup);
    shop.put(&cai, SUNGLASSES, 4, "").await.unwrap();
    // 13 stars over 3 ratings: 4.33.
    assert_eq!(summary(&mut shop, SUNGLASSES).await, (3, 13, 433));

    // A second put by one account replaces its rating: still one per account.
    let updated = shop.put(&ana, SUNGLASSES, 1, "Scratched").await.unwrap();
    assert_eq!((updated.stars, updated.text.as_str()), (1, "Scratched"));
    assert_eq!(updated.created_at_ms, created.created_at_ms);
    assert!(updated.updated_at_ms >= created.updated_at_ms);
    assert_eq!(summary(&mut shop, SUNGLASSES).await, (3, 10, 333));

    // Several products in one call, in the order asked, repeats and unknown
    // ids included.
    shop.put(&ana, TANK_TOP, 2, "").await.unwrap();
    let batch = summaries(&mut shop, &[TANK_TOP, "NO-SUCH-ID", SUNGLASSES, TANK_TOP]).await;
    let got: Vec<(&str, i64, i64, u32)> = batch
        .iter()
        .map(|s| {
            (
                s.product_id.as_str(),
                s.count,
                s.stars_sum,
                s.average_centistars,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (TANK_TOP, 1, 2, 200),
            ("NO-SUCH-ID", 0, 0, 0),
            (SUNGLASSES, 3, 10, 333),
            (TANK_TOP, 1, 2, 200),
        ]
    );
    assert!(summaries(&mut shop, &[]).await.is_empty());

    assert!(delete(&mut shop, &ana, SUNGLASSES).await);
    assert_eq!(
        get(&mut shop, &ana, SUNGLASSES).await.unwrap_err().code(),
        Code::NotFound
    );
    assert_eq!(summary(&mut shop, SUNGLASSES).await, (2, 9, 450));
    // A repeated delete is not an error and changes nothing.
    assert!(!delete(&mut shop, &ana, SUNGLASSES).await);
    assert_eq!(summary(&mut shop, SUNGLASSES).await, (2, 9, 450));
    assert_eq!(summary(&mut shop, TANK_TOP).await, (1, 2, 200));

    for (action, n) in [("put", 4.0), ("update", 1.0), ("delete", 1.0)] {
        assert_eq!(
            shop.metric("boutique_ratings_written_total", &[("action", action)]),
            n,
            "{action}"
        );
    }
    shop.stop().await;
}

async fn ratings_are_listed_newest_first_in_stable_pages(backend: Backend) {
    let Some(mut shop) = Shop::start(backend, |_| {}).await else {
        return;
    };
    let accounts: Vec<String> = (0..7).map(|_| account()).collect();
    for (n, account_id) in accounts.iter().enumerate() {
        shop.put(
            account_id,
            SUNGLASSES,
            (n % 5 + 1) as i32,
            &format!("review {n}"),
        )
        .await
        .unwrap();
    }
    shop.put(&accounts[0], TANK_TOP, 3, "another product")
        .await
        .unwrap();
    let list = |page_size: u32, page_token: String| ListRatingsRequest {
        product_id: SUNGLASSES.to_owned(),
        page_size,
        page_token,
    };
    let all = shop
        .client
        .list_ratings(list(MAX_PAGE, String::new()))
        .await
        .unwrap()
        .into_inner();
    assert!(all.next_page_token.is_empty());
    assert_eq!(all.ratings.len(), accounts.len());
    let keys: Vec<(i64, &str)> = all
        .ratings
        .iter()
        .map(|r| (r.updated_at_ms, r.account_id.as_str()))
        .collect();
    let mut newest_first = keys.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(keys, newest_first);

    let mut paged = Vec::new();
    let mut tokens = Vec::new();
    let mut token = String::new();
    loop {
        let page = shop
            .client
            .list_ratings(list(3, token.clone()))
            .await
            .unwrap()
            .into_inner();
        assert!(page.ratings.len() <= 3);
        paged.extend(page.ratings);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
        tokens.push(token.clone());
    }
    assert_eq!(
        paged, all.ratings,
        "the pages add up to the list, once each"
    );
    assert_eq!(tokens.len(), 2);
    // A token names a position, not a moment: asked again, the same page.
    let again = shop
        .client
        .list_ratings(list(3, tokens[0].clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.ratings, paged[3..6]);
    // Only for its own product, and only tokens this service made.
    let mut other = list(3, tokens[0].clone());
    other.product_id = TANK_TOP.to_owned();
    assert_invalid(shop.client.list_ratings(other).await, "page_token");
    assert_invalid(
        shop.client
            .list_ratings(list(3, "made-up".to_owned()))
            .await,
        "page_token",
    );

    // A rewritten rating is the newest.
    shop.put(&accounts[3], SUNGLASSES, 5, "updated")
        .await
        .unwrap();
    let first = shop
        .client
        .list_ratings(list(1, String::new()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.ratings[0].account_id, accounts[3]);
    assert!(!first.next_page_token.is_empty());
    shop.stop().await;
}

async fn bad_input_is_refused_with_invalid_argument(backend: Backend) {
    let Some(mut shop) = Shop::start(backend, |_| {}).await else {
        return;
    };
    let ana = account();
    for stars in [0, 6, -1, 100] {
        assert_invalid(shop.put(&ana, SUNGLASSES, stars, "").await, "stars");
    }
    assert_invalid(
        shop.put(&ana, SUNGLASSES, 3, &"a".repeat(2001)).await,
        "at most 2000 characters",
    );
    // Counted in characters: 2000 three-byte characters are fine.
    shop.put(&ana, SUNGLASSES, 3, &"日".repeat(2000))
        .await
        .unwrap();
    for text in ["carriage\r\nreturn", "nul\0", "escape \u{1b}[2J"] {
        assert_invalid(
            shop.put(&ana, SUNGLASSES, 3, text).await,
            "control characters",
        );
    }
    assert_invalid(
        shop.put(&ana, "NOT-A-PRODUCT", 3, "").await,
        "not in the catalog",
    );
    assert_invalid(shop.put(&ana, "", 3, "").await, "product_id");
    for who in ["", "guest-7f1c", "acct-123", &ana.to_uppercase()] {
        assert_invalid(shop.put(who, SUNGLASSES, 3, "").await, "account_id");
    }
    let many: Vec<String> = (0..=MAX_SUMMARIES).map(|n| format!("P{n}")).collect();
    assert_invalid(
        shop.client
            .get_summaries(GetSummariesRequest { product_ids: many })
            .await,
        "at most 100",
    );
    assert_invalid(
        shop.client
            .get_rating(GetRatingRequest {
                account_id: "guest".to_owned(),
                product_id: SUNGLASSES.to_owned(),
            })
            .await,
        "account_id",
    );
    // Nothing refused was written.
    assert_eq!(summary(&mut shop, SUNGLASSES).await, (1, 3, 300));
    shop.stop().await;
}
