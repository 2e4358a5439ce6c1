//! The order book on every backend: claims, keys, the state machine, the
//! outbox, listing and leases.

use std::sync::Arc;

use boutique_money::Money;
use boutique_store::{
    OrderBook,
    orders::{Begun, Move, Moved, NewOrder, Note, OrderLine, OrderState, UnsettledQuery},
};
use tokio::sync::Barrier;

use crate::helpers::{TestDb, on_every_backend};

on_every_backend!(
    one_order_holds_a_cart_and_a_key_names_one_order,
    concurrent_begins_of_one_cart_create_one_order,
    an_order_moves_only_as_the_machine_allows_and_announces_each_move,
    the_cart_is_freed_when_emptied_or_when_nothing_was_charged,
    owners_list_their_orders_newest_first_in_pages,
    unsettled_orders_are_leased_to_one_reconciler_at_a_time,
    a_placed_order_is_recorded_charged_and_shipped_in_one_move,
    a_guests_orders_and_keys_move_to_the_account_they_sign_in_to,
    a_deleted_accounts_orders_stay_but_name_nobody,
);

fn usd(units: i64) -> Money {
    Money::new("USD", units, 0).unwrap()
}

fn new_order(id: &str, cart: &str, key: Option<&str>) -> NewOrder {
    NewOrder {
        id: id.to_owned(),
        owner: format!("owner-of-{cart}"),
        cart_id: cart.to_owned(),
        idempotency_key: key.map(str::to_owned),
        request_digest: "digest-1".to_owned(),
        email: "shopper@example.com".to_owned(),
        address: Default::default(),
        currency_code: "USD".to_owned(),
        card_last_four: "0454".to_owned(),
    }
}

async fn priced(book: &OrderBook, id: &str, cart: &str) {
    let begun = book.begin(&new_order(id, cart, None)).await.unwrap();
    assert!(matches!(begun, Begun::Created(_)), "{begun:?}");
    let lines = [OrderLine {
        product_id: "OLJCESPC7Z".to_owned(),
        quantity: 2,
        unit_cost: usd(10),
    }];
    let moved = book.price(id, &lines, &usd(5), &usd(25)).await.unwrap();
    assert!(matches!(moved, Moved::Changed(_)), "{moved:?}");
}

fn charged(tx: &str) -> Move {
    Move {
        transaction_id: Some(tx.to_owned()),
        ..Move::to(OrderState::Charged)
    }
}

async fn one_order_holds_a_cart_and_a_key_names_one_order(db: TestDb) {
    let book = OrderBook::new(&db.open().await);
    let Begun::Created(first) = book
        .begin(&new_order("o1", "cart", Some("k")))
        .await
        .unwrap()
    else {
        panic!("a free cart opens an order");
    };
    assert_eq!(first.state, OrderState::Created);
    assert_eq!(first.history.len(), 1);

    // The same key and request: the first order, whatever id was proposed.
    let again = book
        .begin(&new_order("o2", "cart", Some("k")))
        .await
        .unwrap();
    assert_eq!(again, Begun::Replayed(first.clone()));
    // The same key for another request: refused.
    let mut other = new_order("o3", "cart", Some("k"));
    other.request_digest = "digest-2".to_owned();
    assert_eq!(book.begin(&other).await.unwrap(), Begun::KeyReused);
    // Another key, same cart: busy, naming the holder.
    assert_eq!(
        book.begin(&new_order("o4", "cart", Some("k2")))
            .await
            .unwrap(),
        Begun::CartBusy {
            order_id: "o1".to_owned()
        }
    );
    assert_eq!(book.get("o4").await.unwrap(), None, "nothing left behind");
    // Keys belong to their owner: another owner's "k" is a new order.
    let mut elsewhere = new_order("o5", "cart-2", Some("k"));
    elsewhere.owner = "someone else".to_owned();
    assert!(matches!(
        book.begin(&elsewhere).await.unwrap(),
        Begun::Created(_)
    ));

    // Abandoning an unpriced order frees the cart and the key.
    assert!(book.abandon("o1").await.unwrap());
    assert_eq!(book.get("o1").await.unwrap(), None);
    assert!(matches!(
        book.begin(&new_order("o6", "cart", Some("k")))
            .await
            .unwrap(),
        Begun::Created(_)
    ));
}

async fn concurrent_begins_of_one_cart_create_one_order(db: TestDb) {
    const CALLERS: usize = 32;
    let book = OrderBook::new(&db.open().await);
    let barrier = Arc::new(Barrier::new(CALLERS));
    let tasks: Vec<_> = (0..CALLERS)
        .map(|i| {
            let (book, barrier) = (book.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                // Half with one shared key (a double click), half with their own.
                let key = if i % 2 == 0 {
                    "shared".to_owned()
                } else {
                    format!("k{i}")
                };
                book.begin(&new_order(&format!("o{i}"), "cart", Some(&key)))
                    .await
            })
        })
        .collect();
    let mut created = Vec::new();
    for task in tasks {
        match task.await.unwrap().unwrap() {
            Begun::Created(order) => created.push(order.id),
            Begun::Replayed(_) | Begun::CartBusy { .. } => {}
            Begun::KeyReused => panic!("no request differs"),
        }
    }
    assert_eq!(created.len(), 1, "{created:?}");
}

async fn an_order_moves_only_as_the_machine_allows_and_announces_each_move(db: TestDb) {
    let book = OrderBook::new(&db.open().await);
    book.begin(&new_order("o1", "cart", None)).await.unwrap();
    // Not before it is priced.
    assert_eq!(
        book.advance("o1", &charged("tx")).await.unwrap(),
        Moved::NotAllowed {
            from: OrderState::Created
        }
    );
    let lines = [OrderLine {
        product_id: "p".to_owned(),
        quantity: 1,
        unit_cost: Money::new("USD", 3, 990_000_000).unwrap(),
    }];
    book.price(
        "o1",
        &lines,
        &usd(1),
        &Money::new("USD", 4, 990_000_000).unwrap(),
    )
    .await
    .unwrap();
    assert!(matches!(
        book.price(
            "o1",
            &lines,
            &usd(1),
            &Money::new("USD", 4, 990_000_000).unwrap()
        )
        .await
        .unwrap(),
        Moved::Unchanged(_)
    ));
    let Moved::Changed(order) = book.advance("o1", &charged("tx")).await.unwrap() else {
        panic!("a priced order can be charged");
    };
    assert_eq!(order.transaction_id.as_deref(), Some("tx"));
    assert_eq!(order.lines, lines);
    // A repeat is answered unchanged; skipping a step or going back is not allowed.
    assert!(matches!(
        book.advance("o1", &charged("tx")).await.unwrap(),
        Moved::Unchanged(_)
    ));
    assert_eq!(
        book.advance("o1", &charged("another")).await.unwrap(),
        Moved::NotAllowed {
            from: OrderState::Charged
        }
    );
    assert_eq!(
        book.advance("o1", &Move::to(OrderState::Delivered))
            .await
            .unwrap(),
        Moved::NotAllowed {
            from: OrderState::Charged
        }
    );
    let shipped = Move {
        tracking_id: Some("TRACK".to_owned()),
        ..Move::to(OrderState::Shipped)
    };
    assert!(matches!(
        book.advance("o1", &shipped).await.unwrap(),
        Moved::Changed(_)
    ));
    // Moves caused by an event are made once per event.
    let dispatched = Move {
        cause: Some("event-1".to_owned()),
        ..Move::to(OrderState::Dispatched)
    };
    assert!(matches!(
        book.advance("o1", &dispatched).await.unwrap(),
        Moved::Changed(_)
    ));
    assert!(matches!(
        book.advance("o1", &dispatched).await.unwrap(),
        Moved::Unchanged(_)
    ));
    assert_eq!(
        book.advance("nope", &dispatched).await.unwrap(),
        Moved::NotFound
    );

    let order = book.get("o1").await.unwrap().unwrap();
    let states: Vec<_> = order.history.iter().map(|h| h.state).collect();
    use OrderState::*;
    assert_eq!(states, [Created, Charged, Shipped, Dispatched]);
    assert!(order.history.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));

    let events = book.outbox(100).await.unwrap();
    let types: Vec<_> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "OrderPlaced",
            "OrderCharged",
            "OrderShipped",
            "OrderDispatched"
        ]
    );
    let backlog = book.outbox_backlog().await.unwrap();
    assert_eq!(backlog.events, 4);
    assert_eq!(backlog.oldest_at_ms, Some(events[0].occurred_at_ms));
    let first_two: Vec<String> = events[..2].iter().map(|e| e.event_id.clone()).collect();
    book.remove_published(&first_two).await.unwrap();
    assert_eq!(book.outbox(100).await.unwrap(), events[2..]);
    assert_eq!(
        book.charged().await.unwrap(),
        [("o1".to_owned(), "tx".to_owned())]
    );
}

async fn the_cart_is_freed_when_emptied_or_when_nothing_was_charged(db: TestDb) {
    let book = OrderBook::new(&db.open().await);
    priced(&book, "declined", "cart").await;
    assert!(matches!(
        book.begin(&new_order("next", "cart", None)).await.unwrap(),
        Begun::CartBusy { .. }
    ));
    let declined = Move {
        reason: "card expired".to_owned(),
        ..Move::to(OrderState::Declined)
    };
    let Moved::Changed(order) = book.advance("declined", &declined).await.unwrap() else {
        panic!()
    };
    assert_eq!(order.reason, "card expired");
    priced(&book, "paid", "cart").await;
    book.advance("paid", &charged("tx")).await.unwrap();
    assert!(
        matches!(
            book.begin(&new_order("next", "cart", None)).await.unwrap(),
            Begun::CartBusy { .. }
        ),
        "a charged cart stays claimed until it is emptied"
    );
    let note = Note {
        cart_emptied: true,
        warning: Some("email slow".to_owned()),
        ..Note::default()
    };
    let order = book.note("paid", &note).await.unwrap().unwrap();
    assert!(order.cart_emptied && !order.confirmation_sent);
    assert_eq!(order.warnings, ["email slow"]);
    assert!(matches!(
        book.begin(&new_order("next", "cart", None)).await.unwrap(),
        Begun::Created(_)
    ));
}

async fn owners_list_their_orders_newest_first_in_pages(db: TestDb) {
    let book = OrderBook::new(&db.open().await);
    for i in 0..5 {
        let mut order = new_order(&format!("o{i}"), &format!("cart-{i}"), None);
        order.owner = "ana".to_owned();
        book.begin(&order).await.unwrap();
    }
    book.begin(&new_order("theirs", "cart-x", None))
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut after: Option<(i64, String)> = None;
    loop {
        let page = book
            .list_by_owner("ana", 2, after.as_ref().map(|(ms, id)| (*ms, id.as_str())))
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some((last.created_at_ms, last.id.clone()));
        seen.extend(page.into_iter().map(|o| (o.created_at_ms, o.id)));
    }
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "newest first: {seen:?}"
    );
}

async fn a_guests_orders_and_keys_move_to_the_account_they_sign_in_to(db: TestDb) {
    let book = OrderBook::new(&db.open().await);
    let as_owner = |id: &str, cart: &str, owner: &str, key: Option<&str>| NewOrder {
        owner: owner.to_owned(),
        ..new_order(id, cart, key)
    };
    book.begin(&as_owner("g1", "session", "session", Some("k1")))
        .await
        .unwrap();
    book.note(
        "g1",
        &Note {
            cart_emptied: true,
            ..Note::default()
        },
    )
    .await
    .unwrap();
    book.begin(&as_owner("g2", "session", "session", Some("k2")))
        .await
        .unwrap();
    // The account already used k2 for an order of its own.
    book.begin(&as_owner("a1", "acct-1", "acct-1", Some("k2")))
        .await
        .unwrap();
    book.begin(&as_owner("other", "cart-x", "someone", None))
        .await
        .unwrap();

    assert_eq!(book.transfer_owner("session", "acct-1").await.unwrap(), 2);
    let ids = |orders: Vec<boutique_store::orders::Order>| {
        let mut ids: Vec<String> = orders.into_iter().map(|o| o.id).collect();
        ids.sort();
        ids
    };
    let mine = book.list_by_owner("acct-1", 10, None).await.unwrap();
    assert!(mine.iter().all(|o| o.owner == "acct-1"));
    assert_eq!(
        mine.iter().find(|o| o.id == "g1").unwrap().cart_id,
        "session",
        "the cart an order came from stays"
    );
    assert_eq!(ids(mine), ["a1", "g1", "g2"]);
    assert!(
        book.list_by_owner("session", 10, None)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ids(book.list_by_owner("someone", 10, None).await.unwrap()),
        ["other"]
    );
    // The key moved with its order: the account replays it.
    let replay = book
        .begin(&as_owner("g9", "acct-1", "acct-1", Some("k1")))
        .await
        .unwrap();
    assert!(
        matches!(replay, Begun::Replayed(ref o) if o.id == "g1"),
        "{replay:?}"
    );
    // The key the account held already stays the account's own.
    let held = book
        .begin(&as_owner("a9", "acct-1", "acct-1", Some("k2")))
        .await
        .unwrap();
    assert!(
        matches!(held, Begun::Replayed(ref o) if o.id == "a1"),
        "{held:?}"
    );
    // Again: nothing left to move; bad owners are refused.
    assert_eq!(book.transfer_owner("session", "acct-1").await.unwrap(), 0);
    assert!(book.transfer_owner("acct-1", "acct-1").await.is_err());
    assert!(book.transfer_owner("", "acct-1").await.is_err());
}

async fn a_deleted_accounts_orders_stay_but_name_nobody(db: TestDb) {
    let book = OrderBook::new(&db.open().await);
    for (id, key) in [("d1", "k1"), ("d2", "k2")] {
        let mut order = new_order(id, &format!("cart-{id}"), Some(key));
        order.owner = "acct-gone".to_owned();
        order.address.city = "Mountain View".to_owned();
        book.begin(&order).await.unwrap();
    }
    priced(&book, "kept", "cart-kept").await;

    assert_eq!(book.anonymise_owner("acct-gone").await.unwrap(), 2);
    assert!(
        book.list_by_owner("acct-gone", 10, None)
            .await
            .unwrap()
            .is_empty()
    );
    let all = book.all().await.unwrap();
    assert_eq!(all.len(), 3, "no order is deleted");
    let anonymised: Vec<_> = all.iter().filter(|o| o.id != "kept").collect();
    for order in &anonymised {
        assert!(order.owner.starts_with("deleted-"), "{order:?}");
        assert_eq!(order.cart_id, order.owner);
        assert_eq!(order.email, "");
        assert_eq!(order.address, Default::default());
        assert_eq!(order.card_last_four, "");
        assert_eq!(order.history.len(), 1, "the history stays");
    }
    assert_ne!(
        anonymised[0].owner, anonymised[1].owner,
        "nothing ties them together"
    );
    let kept = all.iter().find(|o| o.id == "kept").unwrap();
    assert_eq!(kept.email, "shopper@example.com");
    // The keys went with the account: a new order under one is a new order.
    let mut again = new_order("d3", "cart-d3", Some("k1"));
    again.owner = "acct-gone".to_owned();
    assert!(matches!(
        book.begin(&again).await.unwrap(),
        Begun::Created(_)
    ));
    assert_eq!(book.anonymise_owner("nobody-at-all").await.unwrap(), 0);
}

async fn unsettled_orders_are_leased_to_one_reconciler_at_a_time(db: TestDb) {
    let book = OrderBook::new(&db.open().await);
    priced(&book, "charging", "cart-1").await;
    priced(&book, "shipped", "cart-2").await;
    book.advance("shipped", &charged("tx")).await.unwrap();
    let shipped = Move {
        tracking_id: Some("T".to_owned()),
        ..Move::to(OrderState::Shipped)
    };
    book.advance("shipped", &shipped).await.unwrap();
    book.note(
        "shipped",
        &Note {
            cart_emptied: true,
            confirmation_sent: true,
            warning: None,
        },
    )
    .await
    .unwrap();
    let query = UnsettledQuery {
        older_than_ms: 0,
        lease_ms: 60_000,
        limit: 10,
        max_attempts: 3,
    };
    let leased = book.lease_unsettled(query).await.unwrap();
    let ids: Vec<_> = leased.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, ["charging"], "finished orders are left alone");
    assert_eq!(leased[0].reconcile_attempts, 1);
    assert!(
        book.lease_unsettled(query).await.unwrap().is_empty(),
        "held by the lease"
    );
    let young = UnsettledQuery {
        older_than_ms: 3_600_000,
        ..query
    };
    let stuck = book.stuck(young.older_than_ms).await.unwrap();
    assert!(stuck.iter().all(|(_, n)| *n == 0), "{stuck:?}");
    let stuck = book.stuck(0).await.unwrap();
    assert!(stuck.contains(&(OrderState::Created, 1)), "{stuck:?}");
}

async fn a_placed_order_is_recorded_charged_and_shipped_in_one_move(db: TestDb) {
    let book = OrderBook::new(&db.open().await);
    book.begin(&new_order("unpriced", "cart-0", None))
        .await
        .unwrap();
    priced(&book, "o1", "cart-1").await;
    let placed = Move {
        transaction_id: Some("tx".to_owned()),
        tracking_id: Some("TRACK".to_owned()),
        cart_emptied: true,
        confirmation_sent: true,
        warnings: vec!["a problem on the way".to_owned()],
        charged_at_ms: Some(1),
        ..Move::to(OrderState::Shipped)
    };
    // Not before a price, and not without the charge's transaction id.
    assert_eq!(
        book.advance("unpriced", &placed).await.unwrap(),
        Moved::NotAllowed {
            from: OrderState::Created
        }
    );
    let without_charge = Move {
        transaction_id: None,
        ..placed.clone()
    };
    assert!(book.advance("o1", &without_charge).await.is_err());

    let Moved::Changed(answered) = book.advance("o1", &placed).await.unwrap() else {
        panic!("the order should move");
    };
    let order = book.get("o1").await.unwrap().unwrap();
    assert_eq!(answered, order, "the answer is what was stored");
    use OrderState::*;
    let states: Vec<_> = order.history.iter().map(|h| h.state).collect();
    assert_eq!(states, [Created, Charged, Shipped]);
    // The charge keeps its own time, but never before the order's last change.
    assert!(order.history.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
    assert_eq!(order.state, Shipped);
    assert_eq!(order.transaction_id.as_deref(), Some("tx"));
    assert_eq!(order.tracking_id.as_deref(), Some("TRACK"));
    assert!(order.cart_emptied && order.confirmation_sent);
    assert_eq!(order.warnings, ["a problem on the way"]);
    let events = book.outbox(100).await.unwrap();
    let o1: Vec<_> = events
        .iter()
        .filter(|e| e.order_id == "o1")
        .map(|e| e.event_type.as_str())
        .collect();
    assert_eq!(o1, ["OrderPlaced", "OrderCharged", "OrderShipped"]);
    // The cart is free again; repeating the move changes nothing.
    assert!(matches!(
        book.begin(&new_order("next", "cart-1", None))
            .await
            .unwrap(),
        Begun::Created(_)
    ));
    assert!(matches!(
        book.advance("o1", &placed).await.unwrap(),
        Moved::Unchanged(_)
    ));
}
