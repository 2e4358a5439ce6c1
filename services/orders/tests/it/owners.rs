//! Who owns an order: a guest's orders move to the account the guest signs
//! in to (TransferOrders), and a deleted account's orders stay, naming nobody
//! (AnonymiseOrders).

use boutique_proto::boutique::orders::v1::{
    AnonymiseOrdersRequest, GetOrderRequest, TransferOrdersRequest,
};
use tonic::Code;

use crate::helpers::{Backend, Orders, on_both_backends};

on_both_backends!(
    a_guests_orders_become_the_accounts,
    a_deleted_accounts_orders_are_anonymised,
);

async fn a_guests_orders_become_the_accounts(backend: Backend) {
    let Some(mut orders) = Orders::start(backend).await else {
        return;
    };
    let session = uuid::Uuid::new_v4().to_string();
    let account = format!("acct-{}", uuid::Uuid::new_v4());
    let placed = orders.begin(&session, &session, "key-1").await;
    orders.begin("someone-else", "their-cart", "").await;

    let transfer = |from: &str, to: &str| TransferOrdersRequest {
        from_owner: from.to_owned(),
        to_owner: to.to_owned(),
    };
    let moved = orders
        .client
        .transfer_orders(transfer(&session, &account))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(moved.transferred, 1);
    assert!(orders.of(&session).await.is_empty());
    let mine = orders.of(&account).await;
    assert_eq!(mine.len(), 1);
    assert_eq!(
        (mine[0].id.as_str(), mine[0].owner.as_str()),
        (placed.id.as_str(), account.as_str())
    );
    assert_eq!(orders.of("someone-else").await.len(), 1);
    // Again: nothing more to move.
    let again = orders
        .client
        .transfer_orders(transfer(&session, &account))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.transferred, 0);
    for (from, to) in [("", "a"), ("a", ""), ("a", "a")] {
        let status = orders
            .client
            .transfer_orders(transfer(from, to))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{from:?} → {to:?}");
    }
}

async fn a_deleted_accounts_orders_are_anonymised(backend: Backend) {
    let Some(mut orders) = Orders::start(backend).await else {
        return;
    };
    let account = format!("acct-{}", uuid::Uuid::new_v4());
    let first = orders.begin(&account, &account, "k1").await;
    let anonymise = |owner: &str| AnonymiseOrdersRequest {
        owner: owner.to_owned(),
    };
    let done = orders
        .client
        .anonymise_orders(anonymise(&account))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.anonymised, 1);
    assert!(orders.of(&account).await.is_empty());
    let kept = orders
        .client
        .get_order(GetOrderRequest {
            order_id: first.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(kept.owner.starts_with("deleted-"), "{}", kept.owner);
    assert_eq!(kept.cart_id, kept.owner);
    assert_eq!(kept.email, "");
    assert_eq!(kept.card_last_four, "");
    let address = kept.shipping_address.unwrap_or_default();
    assert_eq!(
        (
            address.street_address.as_str(),
            address.city.as_str(),
            address.zip_code
        ),
        ("", "", 0)
    );
    assert_eq!(kept.history.len(), first.history.len(), "the history stays");
    let again = orders
        .client
        .anonymise_orders(anonymise(&account))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.anonymised, 0);
    let status = orders
        .client
        .anonymise_orders(anonymise(""))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
}
