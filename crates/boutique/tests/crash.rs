//! A charged order is never lost, even to SIGKILL: the shop is killed while
//! orders wait on a slow payment, started again on the same data, and every
//! order reaches a final state within a few reconcile intervals, with
//! payment's charges and the orders matching one to one (`boutique audit`).
//!
//! Payment runs as its own process (`--use payment=…`) sharing the shop's
//! SQLite file, so charges in flight when the shop dies still land, and
//! the restarted shop's reconciler must settle them.

mod support;

use std::{process::Command, time::Duration};

use boutique_store::{
    Database, DatabaseUrl, Location, OrderBook, StoreConfig, audit::audit, orders::OrderState,
};
use boutique_testkit::{free_port, postgres::PostgresServer};
use support::{BOUTIQUE, CARD, Running, add_to_cart, shopper, try_checkout_at};

/// How many shoppers check out at once when the shop is killed.
const SHOPPERS: usize = 8;

/// Sends the checkout form; the outcome does not matter (the shop dies).
async fn try_checkout(shop_url: String, client: reqwest::Client) {
    let _ = try_checkout_at(&shop_url, &client, CARD, "2039", &[]).await;
}

/// Waits (bounded) until `done` holds for the orders on record.
async fn wait_until(
    book: &OrderBook,
    what: &str,
    done: impl Fn(&[boutique_store::orders::Order]) -> bool,
) {
    boutique_testkit::eventually(what, Duration::from_secs(60), || async {
        let orders = book.all().await.unwrap();
        done(&orders).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_a_killed_shop_loses_no_charge_and_finishes_every_order() {
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("boutique.db");
    let data_dir = data.path().to_str().unwrap();
    crash_and_recover(
        &format!("sqlite://{}", file.display()),
        StoreConfig::at(Location::SqliteFile(file.clone())),
        &["--data", data_dir],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(missing_postgres, ignore = "needs PostgreSQL (Debian postgresql)")]
async fn on_postgresql_a_killed_shop_loses_no_charge_and_finishes_every_order() {
    let Some(server) = PostgresServer::start() else {
        return;
    };
    let url = server.create_database();
    let config = StoreConfig::at(Location::Postgres(DatabaseUrl::new(url.clone())));
    // `DATABASE_URL` (passed to both processes) decides over the data directory.
    crash_and_recover(&url, config, &[]).await;
}

/// Kills the shop (on `database_url`) in the middle of checkouts, starts it
/// again, and checks that every order is finished and the ledger balances.
async fn crash_and_recover(database_url: &str, database: StoreConfig, data_args: &[&str]) {
    // A slow payment of its own, on the shop's database.
    let payment_port = free_port();
    let mut payment = Running::one(
        "payment",
        payment_port,
        &[("EXTRA_LATENCY", "700ms"), ("DATABASE_URL", database_url)],
    );
    let use_payment = format!("payment=127.0.0.1:{payment_port}");
    let reconcile = [
        ("DATABASE_URL", database_url),
        ("RECONCILE_INTERVAL", "200ms"),
        ("POST_CHARGE_TIMEOUT", "1s"),
        ("DISPATCH_DELAY", "0s"),
        ("DELIVERY_DELAY", "0s"),
    ];
    let mut args = data_args.to_vec();
    args.extend(["--use", use_payment.as_str()]);
    let shop = Running::all(&args, &reconcile);
    let db = Database::connect(&database).await.unwrap();
    let book = OrderBook::new(&db);

    // Shoppers fill their carts, then check out in two waves: the first
    // until a charge is on record, the second until its orders are priced
    // and their charges on the way. Then the shop is killed.
    let mut shoppers = Vec::new();
    for _ in 0..SHOPPERS {
        let client = shopper();
        add_to_cart(&shop, &client, "OLJCESPC7Z", "1").await;
        shoppers.push(client);
    }
    let (first, second) = shoppers.split_at(SHOPPERS / 2);
    let mut checkouts = Vec::new();
    for client in first {
        checkouts.push(tokio::spawn(try_checkout(shop.url.clone(), client.clone())));
    }
    wait_until(&book, "charged", |orders| {
        orders.iter().any(|o| o.transaction_id.is_some())
    })
    .await;
    let charged_before = book.all().await.unwrap().len();
    for client in second {
        checkouts.push(tokio::spawn(try_checkout(shop.url.clone(), client.clone())));
    }
    wait_until(&book, "priced and charging", |orders| {
        orders.len() > charged_before
            && orders
                .iter()
                .any(|o| o.state == OrderState::Created && o.total.is_some())
    })
    .await;
    shop.kill();
    for checkout in checkouts {
        let _ = checkout.await;
    }

    // The same shop again: its reconciler finishes what the dead one left.
    let shop = Running::all(&args, &reconcile);
    wait_until(&book, "settled", |orders| {
        orders
            .iter()
            .all(|o| !OrderState::INTERMEDIATE.contains(&o.state))
            && orders
                .iter()
                .filter(|o| o.transaction_id.is_some())
                .all(|o| o.cart_emptied && o.confirmation_sent)
    })
    .await;
    let report = audit(&db, 0).await.unwrap();
    assert!(report.balanced(), "{report:#?}");
    assert!(report.settled(), "{report:#?}");
    assert!(
        report.charges >= 1,
        "some charges went through: {report:#?}"
    );
    let orders = book.all().await.unwrap();
    assert!(
        orders.iter().all(|o| o.state != OrderState::NeedsAttention),
        "our payment service settles every charge: {orders:#?}"
    );
    // Orders that ended with nothing charged have no transaction.
    assert!(
        orders
            .iter()
            .filter(|o| o.state.charged_nothing())
            .all(|o| o.transaction_id.is_none()),
        "{orders:#?}"
    );

    // The operator's view agrees.
    let audited = Command::new(BOUTIQUE)
        .args(["audit", "--unsettled-after", "0s"])
        .env("DATABASE_URL", database_url)
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&audited.stdout);
    assert!(audited.status.success(), "{printed}");
    assert!(printed.contains("audit passed"), "{printed}");

    assert!(shop.interrupt().success());
    assert!(support::interrupt(&mut payment).success());
}
