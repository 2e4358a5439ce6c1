//! One behaviour suite, run against the in-memory store, Redis and the database.

use boutique_proto::{AddItemRequest, CartItem, EmptyCartRequest, GetCartRequest};
use tonic::Code;

use crate::helpers::{TestApp, lines, on_every_backend};

on_every_backend!(
    new_user_has_an_empty_cart,
    adds_items_in_insertion_order,
    adding_the_same_product_twice_sums,
    empty_cart_removes_everything,
    users_are_isolated,
    rejects_bad_requests_with_invalid_argument,
    line_limit_is_10000_and_a_rejected_add_changes_nothing,
);

async fn new_user_has_an_empty_cart(app: TestApp) {
    let cart = app
        .client
        .clone()
        .get_cart(GetCartRequest {
            user_id: "new-user".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cart.user_id, "new-user");
    assert!(cart.items.is_empty(), "{cart:?}");
    // Emptying a cart that does not exist is fine too.
    app.empty("new-user").await.unwrap();
    app.stop().await;
}

async fn adds_items_in_insertion_order(app: TestApp) {
    app.add("u", "OLJCESPC7Z", 1).await.unwrap();
    app.add("u", "66VCHSJNUP", 3).await.unwrap();
    app.add("u", "1YMWWN1N4O", 2).await.unwrap();
    app.add("u", "OLJCESPC7Z", 4).await.unwrap();
    assert_eq!(
        app.items("u").await,
        lines(&[("OLJCESPC7Z", 5), ("66VCHSJNUP", 3), ("1YMWWN1N4O", 2)])
    );
    app.stop().await;
}

/// The upstream xUnit test: adding a product twice gives quantity 2.
async fn adding_the_same_product_twice_sums(app: TestApp) {
    app.add("u", "OLJCESPC7Z", 1).await.unwrap();
    app.add("u", "OLJCESPC7Z", 1).await.unwrap();
    assert_eq!(app.items("u").await, lines(&[("OLJCESPC7Z", 2)]));
    app.stop().await;
}

async fn empty_cart_removes_everything(app: TestApp) {
    app.add("u", "OLJCESPC7Z", 1).await.unwrap();
    app.add("u", "66VCHSJNUP", 2).await.unwrap();
    app.empty("u").await.unwrap();
    assert!(app.items("u").await.is_empty());
    // A new cart after emptying starts from zero, not from the old lines.
    app.add("u", "OLJCESPC7Z", 1).await.unwrap();
    assert_eq!(app.items("u").await, lines(&[("OLJCESPC7Z", 1)]));
    app.stop().await;
}

async fn users_are_isolated(app: TestApp) {
    app.add("alice", "OLJCESPC7Z", 1).await.unwrap();
    app.add("bob", "66VCHSJNUP", 7).await.unwrap();
    // A user id that looks like another user's Redis key must not reach it.
    app.add("alice}:order", "9SIQT8TOJO", 1).await.unwrap();
    assert_eq!(app.items("alice").await, lines(&[("OLJCESPC7Z", 1)]));
    assert_eq!(app.items("bob").await, lines(&[("66VCHSJNUP", 7)]));
    app.empty("alice").await.unwrap();
    assert!(app.items("alice").await.is_empty());
    assert_eq!(app.items("bob").await, lines(&[("66VCHSJNUP", 7)]));
    assert_eq!(app.items("alice}:order").await, lines(&[("9SIQT8TOJO", 1)]));
    app.stop().await;
}

async fn rejects_bad_requests_with_invalid_argument(app: TestApp) {
    let mut client = app.client.clone();
    let item = |product_id: &str, quantity| {
        Some(CartItem {
            product_id: product_id.into(),
            quantity,
        })
    };
    let adds = [
        ("", item("OLJCESPC7Z", 1), "user_id is required"),
        ("u", None, "item is required"),
        ("u", item("", 1), "product_id is required"),
        ("u", item("OLJCESPC7Z", 0), "from 1 to 10000"),
        ("u", item("OLJCESPC7Z", -1), "from 1 to 10000"),
        ("u", item("OLJCESPC7Z", 10_001), "from 1 to 10000"),
        ("u", item("OLJCESPC7Z", i32::MAX), "from 1 to 10000"),
        ("u", item("OLJCESPC7Z", i32::MIN), "from 1 to 10000"),
    ];
    for (user_id, item, message) in adds {
        let status = client
            .add_item(AddItemRequest {
                user_id: user_id.into(),
                item: item.clone(),
            })
            .await
            .unwrap_err();
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{user_id:?} {item:?}: {status:?}"
        );
        assert!(status.message().contains(message), "{status:?}");
    }
    let status = client
        .get_cart(GetCartRequest { user_id: "".into() })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let status = client
        .empty_cart(EmptyCartRequest { user_id: "".into() })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    // Nothing was stored by the rejected adds.
    assert!(app.items("u").await.is_empty());
    app.stop().await;
}

async fn line_limit_is_10000_and_a_rejected_add_changes_nothing(app: TestApp) {
    app.add("u", "OLJCESPC7Z", 10_000).await.unwrap();
    let status = app.add("u", "OLJCESPC7Z", 1).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("limit of 10000"), "{status:?}");
    assert_eq!(app.items("u").await, lines(&[("OLJCESPC7Z", 10_000)]));

    app.add("u", "66VCHSJNUP", 6_000).await.unwrap();
    let status = app.add("u", "66VCHSJNUP", 4_001).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("10001"), "{status:?}");
    app.add("u", "66VCHSJNUP", 4_000).await.unwrap();
    // The limit is per line: other products are unaffected.
    app.add("u", "1YMWWN1N4O", 1).await.unwrap();
    assert_eq!(
        app.items("u").await,
        lines(&[
            ("OLJCESPC7Z", 10_000),
            ("66VCHSJNUP", 10_000),
            ("1YMWWN1N4O", 1)
        ])
    );
    app.stop().await;
}
