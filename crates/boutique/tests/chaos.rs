//! Chaos: the shop as one process per service, under `boutique loadgen`.
//! Each gRPC service in turn is killed with SIGKILL and started again on its
//! port. While it is down, the pages that do not need it answer 200 (the
//! degradation contract, docs/degradation.md); within 5 s of its restart
//! every page answers 200 again; and at the end every charge payment made
//! belongs to exactly one order and every order is settled (`audit`), so no
//! charge was lost or doubled on the way.
//!
//! Every service shares one SQLite file (orders, payment's ledger, accounts,
//! ratings), as `boutique all` does; the storefront is `boutique all` with
//! every backend `--use`d, so it runs alone in its process.

mod support;

use std::{collections::HashMap, time::Duration};

use boutique_proto::directory::ServiceInfo;
use boutique_store::{
    Database, Location, OrderBook, StoreConfig, audit::audit, orders::OrderState,
};
use boutique_testkit::eventually;
use support::{
    GrpcShop, Reaped, Running, add_to_cart, buy, env_pairs, interrupt, loadgen, shopper,
    try_add_to_cart,
};

/// A product of the catalog.
const PRODUCT: &str = "OLJCESPC7Z";

/// The pages a shopper with something in the cart visits.
const PAGES: [&str; 3] = ["/", "/product/OLJCESPC7Z", "/cart"];

/// How soon after a restart every page must answer again (issue 14's bound).
const RECOVERY: Duration = Duration::from_secs(5);

/// The pages that answer 200 while `service` is down, per the degradation
/// contract: those that do not call it, or do without it.
fn pages_without(service: &str) -> &'static [&'static str] {
    match service {
        // Each page asks the cart (the badge, the cart page itself).
        "cart" => &PAGES[..2],
        // A cart page shows a shipping quote.
        "shipping" => &PAGES[..2],
        // Nothing renders without products (once the cached catalog expires,
        // which may be during the outage or not).
        "catalog" => &[],
        // Dollar prices need no conversion, and the currency list is the
        // last one known.
        _ => &PAGES,
    }
}

/// Starts `service` on `port` with the shop's environment.
fn start(service: &ServiceInfo, port: u16, env: &[(String, String)]) -> Reaped {
    Reaped(Running::one(service.name, port, &env_pairs(env)))
}

/// Whether every page in `pages` answers 200 for `client`.
async fn all_answer(client: &reqwest::Client, url: &str, pages: &[&str]) -> Result<(), String> {
    for page in pages {
        let response = client
            .get(format!("{url}{page}"))
            .send()
            .await
            .map_err(|e| format!("{page}: {e}"))?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(format!("{page}: {}", response.status()));
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_each_service_in_turn_keeps_the_pages_that_do_not_need_it_and_loses_no_charge() {
    let data = tempfile::tempdir().unwrap();
    let shop = GrpcShop::new(
        data.path(),
        &[
            ("RECONCILE_INTERVAL", "200ms"),
            ("POST_CHARGE_TIMEOUT", "1s"),
            ("LOG_LEVEL", "warn"),
        ],
    );
    let mut running: HashMap<&str, Reaped> = shop
        .services
        .iter()
        .map(|s| (s.name, start(s, shop.ports[s.name], &shop.env)))
        .collect();
    let mut args = vec![
        "--data".to_owned(),
        data.path().to_str().unwrap().to_owned(),
    ];
    args.extend(shop.storefront_args());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let storefront = Running::all(&args, &[]);

    // Background load: shoppers browsing, filling carts and checking out.
    let mut load = loadgen(&storefront.url, 4);

    let client = shopper();
    // One order of our own, so the ledger check below always has a charge
    // to match, however slow the load is to check out on a busy machine.
    buy(&storefront, &client, PRODUCT, &[]).await;
    add_to_cart(&storefront, &client, PRODUCT, "1").await;
    all_answer(&client, &storefront.url, &PAGES).await.unwrap();

    for service in &shop.services {
        let name = service.name;
        let mut victim = running.remove(name).unwrap();
        victim.0.kill().unwrap();
        victim.0.wait().unwrap();

        // Down: what does not need it still answers, several times over (so
        // the first refusals, the breaker opening and its open state all pass).
        for _ in 0..3 {
            if let Err(error) = all_answer(&client, &storefront.url, pages_without(name)).await {
                panic!("with {name} down: {error}");
            }
        }

        running.insert(name, start(service, shop.ports[name], &shop.env));
        eventually(
            &format!("every page answering after {name} restarted"),
            RECOVERY,
            || async {
                // The cart may have died with the cart service: refill it.
                let added = try_add_to_cart(&storefront, &client, PRODUCT, "1")
                    .await
                    .is_ok_and(|status| status.is_success());
                if !added {
                    return None;
                }
                all_answer(&client, &storefront.url, &PAGES).await.ok()
            },
        )
        .await;
    }

    // Its exit status counts the failed requests of the outages: not ours to judge.
    interrupt(&mut load.0);
    // Every order settles (the reconciler finishes what the kills left),
    // and every charge matches one order.
    let db = Database::connect(&StoreConfig::at(Location::SqliteFile(
        data.path().join(boutique_store::DATABASE_FILE),
    )))
    .await
    .unwrap();
    let book = OrderBook::new(&db);
    eventually("every order settled", Duration::from_secs(60), || async {
        let orders = book.all().await.unwrap();
        orders
            .iter()
            .all(|o| !OrderState::INTERMEDIATE.contains(&o.state))
            .then_some(())
    })
    .await;
    let report = audit(&db, 0).await.unwrap();
    assert!(report.balanced(), "{report:#?}");
    assert!(report.settled(), "{report:#?}");
    assert!(report.charges >= 1, "no charge recorded: {report:#?}");

    assert!(storefront.interrupt().success());
    for (_, mut child) in running {
        assert!(interrupt(&mut child.0).success());
    }
}
