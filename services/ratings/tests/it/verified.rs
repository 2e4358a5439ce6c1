//! Verified purchases: a rating is verified only when the orders service
//! knows a paid order of the account with the product; while the orders
//! service is down a rating is still stored, unverified.

use boutique_proto::boutique::orders::v1::OrderState;

use crate::helpers::{Backend, SUNGLASSES, Shop, TANK_TOP, account, on_both_backends};

on_both_backends!(
    verified_only_after_a_paid_order_with_the_product,
    an_orders_outage_stores_the_rating_unverified,
);

async fn verified_only_after_a_paid_order_with_the_product(backend: Backend) {
    let Some(mut shop) = Shop::start(backend, |_| {}).await else {
        return;
    };
    let ana = account();
    // No orders at all.
    assert!(
        !shop
            .put(&ana, SUNGLASSES, 4, "")
            .await
            .unwrap()
            .verified_purchase
    );
    // An order priced but never charged, one declined, and a paid one of
    // another product: none of them a purchase of the sunglasses.
    shop.order(&ana, SUNGLASSES, OrderState::Created).await;
    shop.order(&ana, SUNGLASSES, OrderState::Declined).await;
    shop.order(&ana, TANK_TOP, OrderState::Charged).await;
    assert!(
        !shop
            .put(&ana, SUNGLASSES, 4, "")
            .await
            .unwrap()
            .verified_purchase
    );
    // Someone else's paid order does not count for ana.
    let ben = account();
    shop.order(&ben, SUNGLASSES, OrderState::Delivered).await;
    assert!(
        !shop
            .put(&ana, SUNGLASSES, 4, "")
            .await
            .unwrap()
            .verified_purchase
    );
    assert!(
        shop.put(&ben, SUNGLASSES, 5, "")
            .await
            .unwrap()
            .verified_purchase
    );

    // Once charged, ana's next write is verified.
    shop.order(&ana, SUNGLASSES, OrderState::Charged).await;
    let rating = shop.put(&ana, SUNGLASSES, 5, "Bought them").await.unwrap();
    assert!(rating.verified_purchase);
    // The tank top was bought too (charged counts, as shipped would).
    assert!(
        shop.put(&ana, TANK_TOP, 3, "")
            .await
            .unwrap()
            .verified_purchase
    );
    // Every later state of a paid order counts.
    for state in [OrderState::Shipped, OrderState::Dispatched] {
        let cai = account();
        shop.order(&cai, SUNGLASSES, state).await;
        assert!(
            shop.put(&cai, SUNGLASSES, 2, "")
                .await
                .unwrap()
                .verified_purchase,
            "{state:?}"
        );
    }
    shop.stop().await;
}

async fn an_orders_outage_stores_the_rating_unverified(backend: Backend) {
    let Some(mut shop) = Shop::start(backend, |_| {}).await else {
        return;
    };
    let (ana, ben) = (account(), account());
    shop.order(&ana, SUNGLASSES, OrderState::Charged).await;
    shop.order(&ben, SUNGLASSES, OrderState::Charged).await;
    assert!(
        shop.put(&ana, SUNGLASSES, 5, "")
            .await
            .unwrap()
            .verified_purchase
    );

    shop.stop_orders().await;
    // ben bought them too, but the orders service cannot say so: the rating
    // is stored all the same, unverified.
    let rating = shop.put(&ben, SUNGLASSES, 4, "Outage").await.unwrap();
    assert!(!rating.verified_purchase);
    assert_eq!(rating.text, "Outage");
    // A verified rating rewritten during the outage stays verified.
    let rewritten = shop.put(&ana, SUNGLASSES, 3, "Still mine").await.unwrap();
    assert!(rewritten.verified_purchase);
    shop.stop().await;
}
