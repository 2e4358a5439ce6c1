//! The cart book on every backend: lines summed in first-added order, the
//! line limit (also under concurrent adds, which lose no update), emptying,
//! and the idle expiry.

use std::{sync::Arc, time::Duration};

use boutique_store::{
    CartBook,
    carts::{Added, CartLine},
};
use tokio::sync::Barrier;

use crate::helpers::{TestDb, on_every_backend};

on_every_backend!(
    adds_sum_per_product_and_keep_the_order_products_came_in,
    an_add_past_the_limit_changes_nothing,
    an_emptied_or_unknown_cart_has_no_lines,
    concurrent_adds_lose_no_update_and_never_pass_the_limit,
    an_idle_cart_expires_and_an_add_starts_it_afresh,
);

const LIMIT: i32 = 10_000;

fn lines(pairs: &[(&str, i32)]) -> Vec<CartLine> {
    pairs
        .iter()
        .map(|(product_id, quantity)| CartLine {
            product_id: (*product_id).to_owned(),
            quantity: *quantity,
        })
        .collect()
}

async fn adds_sum_per_product_and_keep_the_order_products_came_in(db: TestDb) {
    let book = CartBook::new(&db.open().await, None);
    for (product, quantity) in [("B", 1), ("A", 3), ("C", 2), ("B", 4)] {
        book.add("u", product, quantity, LIMIT).await.unwrap();
    }
    book.add("someone-else", "A", 1, LIMIT).await.unwrap();
    assert_eq!(
        book.lines("u").await.unwrap(),
        lines(&[("B", 5), ("A", 3), ("C", 2)])
    );
    assert_eq!(
        book.lines("someone-else").await.unwrap(),
        lines(&[("A", 1)])
    );
}

async fn an_add_past_the_limit_changes_nothing(db: TestDb) {
    let book = CartBook::new(&db.open().await, None);
    assert_eq!(
        book.add("u", "A", 8, 10).await.unwrap(),
        Added::Added { quantity: 8 }
    );
    assert_eq!(
        book.add("u", "A", 3, 10).await.unwrap(),
        Added::OverLimit { current: 8 }
    );
    assert_eq!(
        book.add("u", "B", 11, 10).await.unwrap(),
        Added::OverLimit { current: 0 }
    );
    assert_eq!(book.lines("u").await.unwrap(), lines(&[("A", 8)]));
    // Refused before a transaction: what the store cannot keep.
    assert!(book.add("u", "A", 0, 10).await.is_err());
    assert!(book.add("", "A", 1, 10).await.is_err());
    assert!(book.add("u", &"x".repeat(256), 1, 10).await.is_err());
}

async fn an_emptied_or_unknown_cart_has_no_lines(db: TestDb) {
    let book = CartBook::new(&db.open().await, None);
    assert!(book.lines("nobody").await.unwrap().is_empty());
    book.empty("nobody").await.unwrap();
    book.add("u", "A", 1, LIMIT).await.unwrap();
    book.add("u", "B", 1, LIMIT).await.unwrap();
    book.empty("u").await.unwrap();
    assert!(book.lines("u").await.unwrap().is_empty());
    // A new cart after emptying starts with the product added first.
    book.add("u", "B", 2, LIMIT).await.unwrap();
    assert_eq!(book.lines("u").await.unwrap(), lines(&[("B", 2)]));
    book.ping().await.unwrap();
}

async fn concurrent_adds_lose_no_update_and_never_pass_the_limit(db: TestDb) {
    let book = CartBook::new(&db.open().await, None);
    let calls = 24;
    let barrier = Arc::new(Barrier::new(calls));
    let tasks: Vec<_> = (0..calls)
        .map(|i| {
            let (book, barrier) = (book.clone(), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                // Half on a line far from its limit, half on one that reaches it.
                let (product, limit) = if i % 2 == 0 { ("A", LIMIT) } else { ("B", 5) };
                book.add("u", product, 1, limit).await.unwrap()
            })
        })
        .collect();
    let mut refused = 0;
    for task in tasks {
        if matches!(task.await.unwrap(), Added::OverLimit { .. }) {
            refused += 1;
        }
    }
    assert_eq!(refused, calls / 2 - 5);
    let mut found = book.lines("u").await.unwrap();
    found.sort_by(|a, b| a.product_id.cmp(&b.product_id));
    assert_eq!(
        found,
        lines(&[("A", i32::try_from(calls / 2).unwrap()), ("B", 5)])
    );
}

async fn an_idle_cart_expires_and_an_add_starts_it_afresh(db: TestDb) {
    let database = db.open().await;
    // An expiry of zero expires every cart the moment it is written: the
    // expiry without waiting for the clock.
    let expiring = CartBook::new(&database, Some(Duration::ZERO));
    let lasting = CartBook::new(&database, Some(Duration::from_secs(3600)));
    lasting.add("kept", "A", 1, LIMIT).await.unwrap();
    expiring.add("u", "A", 3, LIMIT).await.unwrap();
    assert!(expiring.lines("u").await.unwrap().is_empty());
    // The add found the cart expired and started a new one.
    assert_eq!(
        expiring.add("u", "A", 2, LIMIT).await.unwrap(),
        Added::Added { quantity: 2 }
    );
    assert_eq!(lasting.lines("u").await.unwrap(), lines(&[("A", 2)]));
    assert_eq!(lasting.prune().await.unwrap(), 0);
    // Both carts are expired for the zero expiry; the sweep deletes them.
    assert_eq!(expiring.prune().await.unwrap(), 2);
    assert!(lasting.lines("kept").await.unwrap().is_empty());
    assert_eq!(CartBook::new(&database, None).prune().await.unwrap(), 0);
}
