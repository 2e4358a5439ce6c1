//! The rating book on every backend: one rating per account and product,
//! summaries equal to the rows after every write (also under concurrent
//! writers), pages newest first, and the shared per-account write limit.

use std::sync::Arc;

use boutique_platform::clock::now_ms;
use boutique_store::{
    RatingBook, StoreError,
    ratings::{
        MAX_TEXT_CHARS, NewRating, Put, Rating, SUMMARY_BATCH, Summary,
        limit::{Admission, WriteLimit},
    },
};
use tokio::sync::Barrier;

use crate::helpers::{TestDb, on_every_backend};

on_every_backend!(
    one_rating_per_account_and_product_and_the_summary_follows,
    concurrent_writes_of_one_product_keep_its_summary_exact,
    ratings_are_listed_newest_first_in_stable_pages,
    summaries_come_in_batches_of_any_size,
    the_store_refuses_what_would_break_its_invariants,
    the_write_limit_allows_bursts_then_spaces_writes,
    concurrent_writes_of_one_account_cannot_pass_the_limit,
);

const PRODUCT: &str = "OLJCESPC7Z";

fn account(n: usize) -> String {
    format!("acct-00000000-0000-4000-8000-{n:012}")
}

fn new_rating(account_id: &str, stars: u8, text: &str) -> NewRating {
    NewRating {
        account_id: account_id.to_owned(),
        product_id: PRODUCT.to_owned(),
        stars,
        text: text.to_owned(),
        verified_purchase: false,
    }
}

async fn summary_of(book: &RatingBook, product_id: &str) -> (i64, i64) {
    let found = book.summaries(&[product_id.to_owned()]).await.unwrap();
    found
        .first()
        .map_or((0, 0), |summary| (summary.count, summary.stars_sum))
}

/// Fails unless every product's summary is what its rows add up to.
async fn assert_summaries_match_rows(book: &RatingBook) {
    for (stored, counted) in book.recount().await.unwrap() {
        assert_eq!(stored, counted, "summary against rows");
    }
}

async fn one_rating_per_account_and_product_and_the_summary_follows(db: TestDb) {
    let book = RatingBook::new(&db.open().await);
    let alice = account(1);
    let bob = account(2);
    assert_eq!(book.get(&alice, PRODUCT).await.unwrap(), None);
    assert_eq!(summary_of(&book, PRODUCT).await, (0, 0));

    let Put::Created(created) = book.put(&new_rating(&alice, 4, "Good")).await.unwrap() else {
        panic!("a first rating is created");
    };
    assert_eq!(created.stars, 4);
    assert_eq!(created.created_at_ms, created.updated_at_ms);
    assert_eq!(
        book.get(&alice, PRODUCT).await.unwrap(),
        Some(created.clone())
    );
    assert_eq!(summary_of(&book, PRODUCT).await, (1, 4));

    // Markup is plain text to the store: kept byte for byte.
    let markup = "<script>alert('x')</script> & \"quotes\"\nline two\tand a tab";
    let mut verified = new_rating(&bob, 5, markup);
    verified.verified_purchase = true;
    book.put(&verified).await.unwrap();
    let stored = book.get(&bob, PRODUCT).await.unwrap().unwrap();
    assert_eq!(stored.text, markup);
    assert!(stored.verified_purchase);
    assert_eq!(summary_of(&book, PRODUCT).await, (2, 9));

    // A second put by the same account replaces the first.
    let put = book
        .put(&new_rating(&alice, 2, "Changed my mind"))
        .await
        .unwrap();
    let Put::Updated {
        rating,
        previous_stars,
    } = put
    else {
        panic!("a second rating by one account replaces the first: {put:?}");
    };
    assert_eq!(previous_stars, 4);
    assert_eq!(rating.stars, 2);
    assert_eq!(rating.text, "Changed my mind");
    assert_eq!(rating.created_at_ms, created.created_at_ms);
    assert!(rating.updated_at_ms >= created.updated_at_ms);
    assert_eq!(book.get(&alice, PRODUCT).await.unwrap(), Some(rating));
    assert_eq!(summary_of(&book, PRODUCT).await, (2, 7));

    // Verified stays verified when rewritten without a fresh check.
    let rewritten = book.put(&new_rating(&bob, 3, "")).await.unwrap();
    assert!(rewritten.rating().verified_purchase);
    assert_eq!(summary_of(&book, PRODUCT).await, (2, 5));

    let deleted = book.delete(&alice, PRODUCT).await.unwrap().unwrap();
    assert_eq!(deleted.stars, 2);
    assert_eq!(book.get(&alice, PRODUCT).await.unwrap(), None);
    assert_eq!(summary_of(&book, PRODUCT).await, (1, 3));
    // Deleting again deletes nothing and moves nothing.
    assert_eq!(book.delete(&alice, PRODUCT).await.unwrap(), None);
    assert_eq!(book.delete(&alice, "NEVER-RATED").await.unwrap(), None);
    assert_eq!(summary_of(&book, PRODUCT).await, (1, 3));
    // Other products are untouched.
    assert_eq!(summary_of(&book, "66VCHSJNUP").await, (0, 0));
    assert_summaries_match_rows(&book).await;
}

async fn concurrent_writes_of_one_product_keep_its_summary_exact(db: TestDb) {
    let book = RatingBook::new(&db.open().await);
    const ACCOUNTS: usize = 24;
    const UPDATES: usize = 24;
    let start = Arc::new(Barrier::new(ACCOUNTS + UPDATES + ACCOUNTS / 2));
    let mut tasks = Vec::new();
    // Many accounts rate the product at once...
    for n in 0..ACCOUNTS {
        let (book, start) = (book.clone(), start.clone());
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            book.put(&new_rating(&account(n), (n % 5 + 1) as u8, "many"))
                .await
                .map(|_| ())
        }));
    }
    // ...while one account keeps changing its rating...
    for n in 0..UPDATES {
        let (book, start) = (book.clone(), start.clone());
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            book.put(&new_rating(&account(1000), (n % 5 + 1) as u8, "again"))
                .await
                .map(|_| ())
        }));
    }
    // ...and half of the first accounts delete theirs, which may or may not
    // have been written yet.
    for n in 0..ACCOUNTS / 2 {
        let (book, start) = (book.clone(), start.clone());
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            book.delete(&account(n), PRODUCT).await.map(|_| ())
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_summaries_match_rows(&book).await;
    let (count, _) = summary_of(&book, PRODUCT).await;
    assert!(
        (ACCOUNTS as i64 / 2 + 1..=ACCOUNTS as i64 + 1).contains(&count),
        "{count}"
    );
    let listed = book.list_by_product(PRODUCT, 100, None).await.unwrap();
    assert_eq!(listed.len() as i64, count);
    let repeater: Vec<&Rating> = listed
        .iter()
        .filter(|r| r.account_id == account(1000))
        .collect();
    assert_eq!(repeater.len(), 1, "one rating per account and product");
}

async fn ratings_are_listed_newest_first_in_stable_pages(db: TestDb) {
    let book = RatingBook::new(&db.open().await);
    // Several writes land in the same millisecond: the account id breaks ties.
    for n in 0..7 {
        book.put(&new_rating(&account(n), 3, "")).await.unwrap();
    }
    book.put(&NewRating {
        product_id: "OTHER".to_owned(),
        ..new_rating(&account(99), 1, "")
    })
    .await
    .unwrap();
    let all = book.list_by_product(PRODUCT, 100, None).await.unwrap();
    assert_eq!(all.len(), 7);
    let keys: Vec<(i64, &str)> = all
        .iter()
        .map(|r| (r.updated_at_ms, r.account_id.as_str()))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(keys, sorted, "newest first, then by account id");

    let mut paged: Vec<Rating> = Vec::new();
    let mut after: Option<(i64, String)> = None;
    loop {
        let page = book
            .list_by_product(
                PRODUCT,
                3,
                after.as_ref().map(|(ms, id)| (*ms, id.as_str())),
            )
            .await
            .unwrap();
        assert!(page.len() <= 3);
        let Some(last) = page.last() else { break };
        after = Some((last.updated_at_ms, last.account_id.clone()));
        paged.extend(page);
    }
    assert_eq!(paged, all, "pages add up to the whole list, once each");

    // Rewriting a rating moves it to the front: rewritten in a later
    // millisecond than every write so far, so no tie decides the order.
    let newest = all[0].updated_at_ms;
    while now_ms() <= newest {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    let moved = book.put(&new_rating(&account(0), 5, "")).await.unwrap();
    let first = book.list_by_product(PRODUCT, 1, None).await.unwrap();
    assert_eq!(first[0].account_id, account(0));
    assert_eq!(first[0].updated_at_ms, moved.rating().updated_at_ms);
}

async fn summaries_come_in_batches_of_any_size(db: TestDb) {
    let book = RatingBook::new(&db.open().await);
    let products: Vec<String> = (0..SUMMARY_BATCH + 5).map(|n| format!("P{n}")).collect();
    for (n, product) in products.iter().enumerate() {
        if n % 2 == 0 {
            book.put(&NewRating {
                product_id: product.clone(),
                ..new_rating(&account(n), (n % 5 + 1) as u8, "")
            })
            .await
            .unwrap();
        }
    }
    let mut asked = products.clone();
    asked.push("UNKNOWN".to_owned());
    asked.push(products[0].clone());
    let mut found = book.summaries(&asked).await.unwrap();
    found.sort_by(|a, b| a.product_id.cmp(&b.product_id));
    let mut expected: Vec<Summary> = products
        .iter()
        .enumerate()
        .filter(|(n, _)| n % 2 == 0)
        .map(|(n, product)| Summary {
            product_id: product.clone(),
            count: 1,
            stars_sum: (n % 5 + 1) as i64,
        })
        .collect();
    expected.sort_by(|a, b| a.product_id.cmp(&b.product_id));
    assert_eq!(found, expected);
    assert!(book.summaries(&[]).await.unwrap().is_empty());
}

async fn the_store_refuses_what_would_break_its_invariants(db: TestDb) {
    let book = RatingBook::new(&db.open().await);
    let alice = account(1);
    for bad in [
        new_rating(&alice, 0, ""),
        new_rating(&alice, 6, ""),
        new_rating("", 3, ""),
        NewRating {
            product_id: String::new(),
            ..new_rating(&alice, 3, "")
        },
        new_rating(&"a".repeat(256), 3, ""),
        new_rating(&alice, 3, &"é".repeat(MAX_TEXT_CHARS + 1)),
    ] {
        let error = book.put(&bad).await.unwrap_err();
        assert!(matches!(error, StoreError::Invalid { .. }), "{error:?}");
    }
    // The limit is counted in characters, not bytes.
    book.put(&new_rating(&alice, 3, &"é".repeat(MAX_TEXT_CHARS)))
        .await
        .unwrap();
    assert_eq!(summary_of(&book, PRODUCT).await, (1, 3));
}

async fn the_write_limit_allows_bursts_then_spaces_writes(db: TestDb) {
    let book = RatingBook::new(&db.open().await);
    let limit = WriteLimit::per_minute(10);
    let (alice, bob) = (account(1), account(2));
    let t = 1_700_000_000_000;
    for _ in 0..10 {
        assert_eq!(
            book.admit_write(&alice, t, limit).await.unwrap(),
            Admission::Allowed
        );
    }
    assert_eq!(
        book.admit_write(&alice, t, limit).await.unwrap(),
        Admission::Limited {
            retry_after_ms: 6_000
        }
    );
    // A refused write is not counted: a little later, a little less to wait.
    assert_eq!(
        book.admit_write(&alice, t + 1_000, limit).await.unwrap(),
        Admission::Limited {
            retry_after_ms: 5_000
        }
    );
    // Another account has its own allowance.
    assert_eq!(
        book.admit_write(&bob, t, limit).await.unwrap(),
        Admission::Allowed
    );
    // One write every six seconds at the steady rate.
    assert_eq!(
        book.admit_write(&alice, t + 6_000, limit).await.unwrap(),
        Admission::Allowed
    );
    assert!(matches!(
        book.admit_write(&alice, t + 6_000, limit).await.unwrap(),
        Admission::Limited { .. }
    ));
    // After a quiet minute, a whole burst again.
    let later = t + 6_000 + 60_000;
    for _ in 0..10 {
        assert_eq!(
            book.admit_write(&alice, later, limit).await.unwrap(),
            Admission::Allowed
        );
    }
    assert!(matches!(
        book.admit_write(&alice, later, limit).await.unwrap(),
        Admission::Limited { .. }
    ));
}

async fn concurrent_writes_of_one_account_cannot_pass_the_limit(db: TestDb) {
    let book = RatingBook::new(&db.open().await);
    let limit = WriteLimit::per_minute(10);
    let t = 1_700_000_000_000;
    let start = Arc::new(Barrier::new(30));
    let tasks: Vec<_> = (0..30)
        .map(|_| {
            let (book, start) = (book.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                book.admit_write(&account(1), t, limit).await.unwrap()
            })
        })
        .collect();
    let mut allowed = 0;
    for task in tasks {
        if task.await.unwrap() == Admission::Allowed {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 10);
}
