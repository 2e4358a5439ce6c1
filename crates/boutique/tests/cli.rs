//! The `boutique` binary as a user runs it: `boutique all` becomes ready, serves
//! the shop, answers health checks and exits cleanly on Ctrl-C; `--use` swaps
//! in a service that runs elsewhere; bad configuration exits with code 64.

use std::process::{Command, Stdio};

use boutique_testkit::free_port;

mod support;

use support::{BOUTIQUE, Running};

fn healthcheck(args: &[&str]) -> bool {
    Command::new(BOUTIQUE)
        .arg("healthcheck")
        .args(args)
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

#[tokio::test]
async fn the_whole_shop_runs_answers_health_checks_and_stops_cleanly() {
    let shop = Running::all(&[], &[]);
    let url = shop.url.clone();
    let home = reqwest::get(format!("{url}/")).await.unwrap();
    assert_eq!(home.status(), 200);
    assert!(home.text().await.unwrap().contains("Sunglasses"));

    let addr = url.trim_start_matches("http://");
    assert!(healthcheck(&["--http", addr]));
    // Any HTTP endpoint that answers `ok`: the admin port's, as the load generator's probe asks.
    let admin = shop
        .metrics_url
        .trim_start_matches("http://")
        .trim_end_matches("/metrics");
    assert!(healthcheck(&["--http", "--path", "/healthz", admin]));
    assert!(!healthcheck(&["--http", "--path", "/metrics", admin]));

    // The upstream shopper, as the Kubernetes smoke Job runs it: every request must succeed.
    let loadgen = Command::new(BOUTIQUE)
        .args([
            "loadgen",
            "--requests",
            "300",
            "--users",
            "4",
            "--think-time",
            "0",
            "--max-failure-ratio",
            "0",
        ])
        .args(["--report", "json", "--quiet"])
        .env("FRONTEND_ADDR", addr)
        // Its admin port on loopback, on a free port.
        .env("LISTEN_ADDR", "127.0.0.1")
        .env("ADMIN_PORT", "0")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&loadgen.stdout);
    assert!(loadgen.status.success(), "loadgen failed: {text}");
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["requests"], 300, "{text}");
    assert_eq!(report["failures"], 0, "{text}");
    // The storefront is not a gRPC server, and nothing listens on port 1.
    assert!(!healthcheck(&[addr, "--timeout", "1s"]));
    assert!(!healthcheck(&["--http", "127.0.0.1:1"]));

    let status = shop.interrupt();
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn a_service_that_runs_elsewhere_replaces_the_built_in_one() {
    // An external catalog with one product of its own, reachable over gRPC.
    let dir = tempfile::tempdir().unwrap();
    let catalog_file = dir.path().join("products.json");
    std::fs::write(
        &catalog_file,
        r#"{"products":[{"id":"TESTMUG001","name":"Elsewhere Mug","description":"Served by another process.",
            "picture":"/static/img/products/mug.jpg","priceUsd":{"currencyCode":"USD","units":3,"nanos":0},
            "categories":["kitchen"]}]}"#,
    )
    .unwrap();
    let catalog_port = free_port();
    let mut catalog = Running::one(
        "catalog",
        catalog_port,
        &[("PRODUCT_CATALOG_FILE", catalog_file.to_str().unwrap())],
    );
    assert!(healthcheck(&[&format!("127.0.0.1:{catalog_port}")]));

    let external = format!("productcatalogservice=127.0.0.1:{catalog_port}");
    let shop = Running::all(&["--use", &external], &[]);
    let url = shop.url.clone();
    let home = reqwest::get(format!("{url}/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        home.contains("Elsewhere Mug"),
        "the home page lists the external catalog"
    );
    assert!(
        !home.contains("Sunglasses"),
        "the built-in catalog was not started"
    );

    assert!(shop.interrupt().success());
    assert!(support::interrupt(&mut catalog).success());
}

#[test]
fn bad_configuration_exits_64_and_names_the_variable() {
    let output = Command::new(BOUTIQUE)
        .arg("all")
        .env("EXTRA_LATENCY", "soon")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&output.stderr).contains("EXTRA_LATENCY"));

    let output = Command::new(BOUTIQUE)
        .args(["all", "--use", "nosuchservice=127.0.0.1:1"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "clap rejects the argument");
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown service"));
}

#[test]
fn migrate_prepares_the_database_and_refuses_a_bad_url() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("db/boutique.db");
    let url = format!("sqlite://{}", file.display());
    for _ in 0..2 {
        // Twice: applying what is applied changes nothing.
        let output = Command::new(BOUTIQUE)
            .arg("migrate")
            .env("DATABASE_URL", &url)
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
    }
    assert!(file.is_file(), "the SQLite file is created");

    let output = Command::new(BOUTIQUE)
        .arg("migrate")
        .env("DATABASE_URL", "mysql://root:hunter2@db/shop")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[tokio::test]
async fn a_single_service_serves_its_metrics_on_the_admin_port() {
    let (port, admin) = (free_port(), free_port());
    let admin_port = admin.to_string();
    // Bound before the service port opens, so it is up once `one` returns.
    let mut ad = Running::one("ad", port, &[("ADMIN_PORT", admin_port.as_str())]);
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap();
    let response = client
        .get(format!("http://127.0.0.1:{admin}/metrics"))
        .send()
        .await
        .expect("the admin port answers while the service runs");
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(
        text.contains(r#"boutique_build_info{commit="#) && text.contains(r#"service_name="ad""#),
        "{text}"
    );
    assert!(text.contains("process_resident_memory_bytes"), "{text}");
    assert!(support::interrupt(&mut ad).success());
}

/// The links to order pages on the shopper's `/orders` page.
async fn order_links(shop: &Running, client: &reqwest::Client) -> Vec<String> {
    let page = client
        .get(format!("{}/orders", shop.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    page.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|href| href.contains("/orders/"))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn a_guests_session_and_orders_survive_a_restart_of_the_shop() {
    let data = tempfile::tempdir().unwrap();
    let args = ["--data", data.path().to_str().unwrap()];
    let shop = Running::all(&args, &[]);
    let client = support::shopper();
    support::buy(&shop, &client, "OLJCESPC7Z", &[]).await;
    let before = order_links(&shop, &client).await;
    assert_eq!(before.len(), 1, "{before:?}");
    assert!(shop.interrupt().success());

    // The same shopper (the same cookie) after a restart on the same data.
    let shop = Running::all(&args, &[]);
    assert_eq!(order_links(&shop, &client).await, before);
    // The key is the shop's own, readable by its owner only.
    let key = data.path().join("session.key");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key).unwrap().permissions());
    assert_eq!(mode & 0o077, 0, "{mode:o}");
    assert!(shop.interrupt().success());
}
