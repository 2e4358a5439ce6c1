//! A rolling restart under load that fails no request: every service in
//! turn, each gRPC service and then the storefront, is restarted the way
//! Kubernetes rolls a Deployment (start the new one, wait until it is ready,
//! SIGTERM the old one), on one host: the new process binds the same port
//! beside the old one (`REUSE_PORT=true`), and the old one closes its
//! listener, sends GOAWAY (or, over HTTP/1.1, `Connection: close`) and
//! drains, so its clients move to the new one between two calls.
//!
//! Throughout, `boutique loadgen` shops (browsing, carts, checkouts) and a
//! shopper of the test's own buys again and again; not one of their requests
//! may fail. At the end every charge payment made belongs to exactly one
//! order and every order is settled (`audit`), as in `chaos.rs`.
//!
//! The shop is laid out as in `chaos.rs` (one process per gRPC service, one
//! SQLite file, the storefront as `boutique all` with every backend
//! `--use`d); carts live in that database too (`CART_STORE=database`), since
//! a cart kept in a process's memory cannot survive its restart.

mod support;

use std::{collections::HashMap, io::Read, time::Duration};

use boutique_loadgen::Report;
use boutique_platform::readiness::process_name;
use boutique_store::{
    Database, Location, OrderBook, StoreConfig, audit::audit, orders::OrderState,
};
use boutique_testkit::{eventually, free_port};
use support::{
    CARD, GrpcShop, Reaped, Running, env_pairs, interrupt, loadgen, shopper, spawn_one, terminate,
    try_add_to_cart_at, try_checkout_at,
};
use tokio_util::sync::CancellationToken;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

/// A product of the catalog.
const PRODUCT: &str = "OLJCESPC7Z";

/// How long a new process may take to become ready.
const START_PATIENCE: Duration = Duration::from_secs(30);

/// How long one probe of a new process may take: a connection the kernel
/// handed to a process that is not serving yet waits in its queue.
const PROBE_TIMEOUT: Duration = Duration::from_millis(250);

/// Whether the process `pid`, one of those listening on `port`, answers
/// SERVING for itself. Each probe is a new connection, which the kernel hands
/// to any of them; only that process knows its own name (the others answer
/// NOT_FOUND).
async fn process_ready(port: u16, pid: u32) -> bool {
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect_timeout(PROBE_TIMEOUT)
        .timeout(PROBE_TIMEOUT);
    let Ok(channel) = endpoint.connect().await else {
        return false;
    };
    HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: process_name(pid),
        })
        .await
        .is_ok_and(|reply| reply.into_inner().status() == ServingStatus::Serving)
}

/// Starts `service` on `port` and waits until it is ready.
async fn start(service: &str, port: u16, env: &[(String, String)]) -> Reaped {
    let child = Reaped(spawn_one(service, port, &env_pairs(env)));
    let pid = child.0.id();
    eventually(
        &format!("the new {service} process ({pid}) ready"),
        START_PATIENCE,
        || async move { process_ready(port, pid).await.then_some(()) },
    )
    .await;
    child
}

/// One purchase at the storefront at `url`: a product in the cart, then the
/// checkout; the first step that did not succeed, if one did not.
async fn buy(url: &str, client: &reqwest::Client) -> Result<(), String> {
    match try_add_to_cart_at(url, client, PRODUCT, "1").await {
        Ok(status) if status.is_success() => {}
        Ok(status) => return Err(format!("add to cart: {status}")),
        Err(error) => return Err(format!("add to cart: {error}")),
    }
    match try_checkout_at(url, client, CARD, "2039", &[]).await {
        Ok((200, _)) => Ok(()),
        Ok((status, page)) => {
            let excerpt: String = page.chars().take(300).collect();
            Err(format!("checkout: {status}: {excerpt}"))
        }
        Err(error) => Err(format!("checkout: {error}")),
    }
}

/// How many purchases the test's shopper has made so far.
#[derive(Debug, Clone, Default)]
struct Made(std::sync::Arc<std::sync::atomic::AtomicU32>);

impl Made {
    fn count(&self) -> u32 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn one_more(&self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Waits until the shopper has bought `more` times since `since`.
    async fn after(&self, since: u32, more: u32, what: &str) {
        eventually(what, START_PATIENCE, || async move {
            (self.count() >= since + more).then_some(())
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_of_every_service_under_load_fails_no_request_and_loses_no_charge() {
    let data = tempfile::tempdir().unwrap();
    let shop = GrpcShop::new(
        data.path(),
        &[
            ("REUSE_PORT", "true"),
            ("CART_STORE", "database"),
            ("RECONCILE_INTERVAL", "200ms"),
            ("LOG_LEVEL", "warn"),
        ],
    );
    let mut running: HashMap<&str, Reaped> = HashMap::new();
    for service in &shop.services {
        let process = start(service.name, shop.ports[service.name], &shop.env).await;
        running.insert(service.name, process);
    }
    let listen = format!("127.0.0.1:{}", free_port());
    let mut args = vec![
        "--listen".to_owned(),
        listen,
        "--data".to_owned(),
        data.path().to_str().unwrap().to_owned(),
    ];
    args.extend(shop.storefront_args());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let front_env = [("REUSE_PORT", "true")];
    let mut storefront = Running::all(&args, &front_env);

    // A shopper who fills a cart before the restarts and checks it out after
    // them: every cart, and the session naming it, must survive them all.
    let keeper = shopper();
    let added = try_add_to_cart_at(&storefront.url, &keeper, PRODUCT, "3").await;
    assert!(added.unwrap().is_success());

    let mut load = loadgen(&storefront.url, 4);
    // The test's own shopper buys again and again while the restarts go on,
    // noting which restart each failure happened in.
    let rolling = std::sync::Arc::new(std::sync::Mutex::new("none"));
    let stop = CancellationToken::new();
    let made = Made::default();
    let buyer = tokio::spawn({
        let shop_url = storefront.url.clone();
        let rolling = rolling.clone();
        let stop = stop.clone();
        let made = made.clone();
        async move {
            let client = shopper();
            let mut failed = Vec::new();
            while !stop.is_cancelled() {
                match buy(&shop_url, &client).await {
                    Ok(()) => made.one_more(),
                    Err(error) => {
                        let during = *rolling.lock().unwrap();
                        failed.push(format!("while restarting {during}: {error}"));
                    }
                }
            }
            failed
        }
    });

    made.after(0, 2, "two purchases before the restarts").await;
    for service in &shop.services {
        let name = service.name;
        *rolling.lock().unwrap() = name;
        let new = start(name, shop.ports[name], &shop.env).await;
        let mut old = running.insert(name, new).unwrap();
        let status = terminate(&mut old.0);
        assert!(
            status.success(),
            "the old {name} drained and exited: {status}"
        );
        // The next restart waits until purchases go through this one's new
        // process, so every handover happens under load.
        made.after(
            made.count(),
            2,
            &format!("two purchases after {name} restarted"),
        )
        .await;
    }
    *rolling.lock().unwrap() = "frontend";
    let new_storefront = Running::all(&args, &front_env);
    let status = std::mem::replace(&mut storefront, new_storefront).terminate();
    assert!(
        status.success(),
        "the old storefront drained and exited: {status}"
    );
    made.after(
        made.count(),
        2,
        "two purchases after the storefront restarted",
    )
    .await;
    *rolling.lock().unwrap() = "none (after the restarts)";

    let kept = try_checkout_at(&storefront.url, &keeper, CARD, "2039", &[]).await;
    assert_eq!(
        kept.unwrap().0,
        200,
        "the cart filled before the restarts is checked out after them"
    );
    stop.cancel();
    let failed = buyer.await.unwrap();
    assert!(failed.is_empty(), "purchases failed: {failed:#?}");
    eprintln!("{} purchases", made.count());

    interrupt(&mut load.0);
    let mut output = String::new();
    load.0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut output)
        .unwrap();
    // Its log lines come first, each a JSON document too; the report is last.
    let last: serde_json::Value = serde_json::Deserializer::from_str(&output)
        .into_iter()
        .last()
        .expect("the load generator reported")
        .unwrap();
    let report: Report = serde_json::from_value(last).unwrap();
    eprintln!("{}", report.to_text());
    let failures: Vec<_> = report
        .routes
        .iter()
        .filter(|route| route.failures > 0)
        .map(|route| (&route.name, &route.failure_reasons))
        .collect();
    assert_eq!(report.failures, 0, "failed requests: {failures:#?}");
    assert!(report.requests > 0, "the load generator sent nothing");

    // Every order settles, and every charge matches one order.
    let db = Database::connect(&StoreConfig::at(Location::SqliteFile(
        data.path().join(boutique_store::DATABASE_FILE),
    )))
    .await
    .unwrap();
    let book = OrderBook::new(&db);
    eventually("every order settled", Duration::from_secs(30), || async {
        let orders = book.all().await.unwrap();
        orders
            .iter()
            .all(|o| !OrderState::INTERMEDIATE.contains(&o.state))
            .then_some(())
    })
    .await;
    let audited = audit(&db, 0).await.unwrap();
    assert!(audited.balanced(), "{audited:#?}");
    assert!(audited.settled(), "{audited:#?}");
    assert!(audited.charges >= 1, "the load placed orders: {audited:#?}");

    assert!(storefront.terminate().success());
    for (name, mut process) in running {
        assert!(terminate(&mut process.0).success(), "{name} exited");
    }
}
