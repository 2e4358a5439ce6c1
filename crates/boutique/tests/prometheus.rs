//! The shop's metrics as a real Prometheus sees them.
//!
//! `boutique all` serves every service's metrics on one admin port. These
//! tests drive a purchase (and two refused checkouts) through the storefront,
//! let a real `prometheus` scrape the admin port, and check through its HTTP
//! API that each metric of the catalogue (`deploy/observability/README.md`)
//! says what happened. A second test lints the raw exposition with
//! `promtool check metrics`. Both skip, and say so, when the programs are not
//! installed (Debian package `prometheus`); under `CI=true` they fail instead.

mod support;

use std::{
    collections::BTreeSet,
    io::Write,
    process::{Command, Stdio},
    time::Duration,
};

use boutique_testkit::{
    find_program,
    prometheus::{PrometheusServer, Sample, format_samples},
};
use support::{CARD, Running, add_to_cart, buy, checkout, shopper};

/// How long Prometheus may take to show a change (it scrapes every second).
const TIMEOUT: Duration = Duration::from_secs(30);

/// The product bought (Sunglasses).
const PRODUCT: &str = "OLJCESPC7Z";

/// The scrape job's name.
const JOB: &str = "boutique";

/// Every service `boutique all` runs, as `service_name` labels them.
const SERVICES: [&str; 14] = [
    "accounts",
    "ad",
    "cart",
    "catalog",
    "checkout",
    "currency",
    "dispatch",
    "email",
    "frontend",
    "orders",
    "payment",
    "ratings",
    "recommendation",
    "shipping",
];

/// The closed label sets the catalogue promises, all present from the start.
const DECLINE_REASONS: [&str; 4] = [
    "card_expired",
    "card_type_not_accepted",
    "invalid_card",
    "invalid_request",
];
const CHECKOUT_STAGES: [&str; 8] = [
    "cart",
    "catalog",
    "currency",
    "payment",
    "quote",
    "shipping",
    "store",
    "validation",
];

#[tokio::test]
#[cfg_attr(missing_prometheus, ignore = "needs prometheus (Debian prometheus)")]
async fn prometheus_sees_a_purchase_and_refused_checkouts() {
    let shop = Running::all(&[], &[]);
    let client = shopper();
    let set = client
        .post(format!("{}/setCurrency", shop.url))
        .form(&[("currency_code", "EUR")])
        .send()
        .await
        .unwrap();
    assert!(set.status().is_success(), "set currency: {}", set.status());
    let page = buy(&shop, &client, PRODUCT, &[]).await;
    let paid = total_paid(&page);

    let target = admin_target(&shop);
    let Some(prometheus) = PrometheusServer::start(JOB, &[&target]).await else {
        return;
    };

    // The target is scraped.
    let up = expect_value(&prometheus, &format!("up{{job=\"{JOB}\"}}"), 1.0).await;
    assert_eq!(up[0].0["instance"], target);

    // Business metrics.
    expect_value(
        &prometheus,
        r#"boutique_orders_placed_total{service_name="checkout",currency="EUR"}"#,
        1.0,
    )
    .await;
    let revenue = prometheus
        .wait_for(
            r#"boutique_order_revenue_total{service_name="checkout",currency="EUR"}"#,
            |s| s.len() == 1 && s[0].1 > 0.0,
            TIMEOUT,
        )
        .await[0]
        .1;
    // The page shows the total that was charged, in whole cents; the counter
    // has the same amount (less a rounding error of the float).
    assert!(
        (paid - 1e-9..=paid + 1e-9).contains(&revenue),
        "revenue {revenue} EUR, but the confirmation says €{paid}"
    );
    // Only EUR was traded.
    expect_count(&prometheus, "boutique_orders_placed_total", 1).await;
    // `buy` adds one line (quantity 2): one AddItem call.
    expect_value(
        &prometheus,
        r#"boutique_cart_additions_total{service_name="cart"}"#,
        1.0,
    )
    .await;
    expect_value(
        &prometheus,
        r#"boutique_emails_sent_total{service_name="email"}"#,
        1.0,
    )
    .await;
    expect_value(
        &prometheus,
        r#"boutique_emails_failed_total{service_name="email"}"#,
        0.0,
    )
    .await;
    expect_by_label(
        &prometheus,
        "boutique_payment_declines_total",
        "reason",
        &DECLINE_REASONS.map(|reason| (reason, 0.0)),
    )
    .await;
    expect_by_label(
        &prometheus,
        "boutique_checkout_failures_total",
        "stage",
        &CHECKOUT_STAGES.map(|stage| (stage, 0.0)),
    )
    .await;

    // RED metrics: gRPC server and client, HTTP server.
    expect_value(
        &prometheus,
        r#"grpc_server_handled_total{service_name="payment",grpc_service="hipstershop.PaymentService",grpc_method="Charge",grpc_code="OK"}"#,
        1.0,
    )
    .await;
    let client_calls = expect_value(
        &prometheus,
        r#"grpc_client_handled_total{service_name="checkout",grpc_service="hipstershop.PaymentService"}"#,
        1.0,
    )
    .await;
    assert_eq!(
        (
            client_calls[0].0["grpc_method"].as_str(),
            client_calls[0].0["grpc_code"].as_str()
        ),
        ("Charge", "OK")
    );
    expect_value(
        &prometheus,
        r#"sum(grpc_server_handled_total{service_name="checkout",grpc_method="PlaceOrder"})"#,
        1.0,
    )
    .await;
    // A successful checkout renders the confirmation with 200, no redirect.
    let checkouts = expect_value(
        &prometheus,
        r#"http_server_requests_total{service_name="frontend",route="/cart/checkout",method="POST"}"#,
        1.0,
    )
    .await;
    assert_eq!(checkouts[0].0["status"], "200");
    expect_value(
        &prometheus,
        r#"http_server_requests_total{service_name="frontend",route="/setCurrency",method="POST"}"#,
        1.0,
    )
    .await;
    // Sub-millisecond buckets exist, labelled as exposed.
    prometheus
        .wait_for(
            r#"grpc_server_handling_seconds_bucket{service_name="currency",le="0.0001"}"#,
            |s| !s.is_empty(),
            TIMEOUT,
        )
        .await;
    prometheus
        .wait_for(
            r#"http_server_request_duration_seconds_count{service_name="frontend",route="/cart/checkout",method="POST"}"#,
            |s| s.len() == 1 && s[0].1 == 1.0,
            TIMEOUT,
        )
        .await;

    // The process and the build.
    prometheus
        .wait_for(
            "process_resident_memory_bytes",
            |s| s.len() == 1 && s[0].1 > 0.0,
            TIMEOUT,
        )
        .await;
    prometheus
        .wait_for(
            "process_open_fds",
            |s| s.len() == 1 && s[0].1 > 0.0,
            TIMEOUT,
        )
        .await;
    let builds = prometheus
        .wait_for(
            "boutique_build_info",
            |s| s.len() == SERVICES.len() && s.iter().all(|(_, value)| *value == 1.0),
            TIMEOUT,
        )
        .await;
    let services: BTreeSet<&str> = builds
        .iter()
        .map(|(labels, _)| labels["service_name"].as_str())
        .collect();
    assert_eq!(
        services,
        SERVICES.into_iter().collect(),
        "{}",
        format_samples(&builds)
    );
    assert!(
        builds
            .iter()
            .all(|(labels, _)| labels["version"] == env!("CARGO_PKG_VERSION")),
        "{}",
        format_samples(&builds)
    );

    // A valid but expired card passes the form and checkout's checks; the
    // payment service declines it (FAILED_PRECONDITION), checkout counts a
    // failure at the payment stage, and the shopper gets 422 with the reason.
    add_to_cart(&shop, &client, PRODUCT, "1").await;
    let declined = checkout(&shop, &client, CARD, "2020", &[]).await;
    assert_eq!(declined.0, 422, "{}", declined.1);
    assert!(
        declined.1.contains("expired on 1/2020"),
        "no reason on the page: {}",
        declined.1
    );
    expect_by_label(
        &prometheus,
        "boutique_payment_declines_total",
        "reason",
        &DECLINE_REASONS.map(|reason| (reason, f64::from(reason == "card_expired"))),
    )
    .await;
    expect_by_label(
        &prometheus,
        "boutique_checkout_failures_total",
        "stage",
        &CHECKOUT_STAGES.map(|stage| (stage, f64::from(stage == "payment"))),
    )
    .await;
    expect_value(
        &prometheus,
        r#"grpc_server_handled_total{service_name="payment",grpc_method="Charge",grpc_code="FailedPrecondition"}"#,
        1.0,
    )
    .await;
    expect_value(
        &prometheus,
        r#"grpc_client_handled_total{service_name="checkout",grpc_method="Charge",grpc_code="FailedPrecondition"}"#,
        1.0,
    )
    .await;
    expect_value(
        &prometheus,
        r#"grpc_server_handled_total{service_name="checkout",grpc_method="PlaceOrder",grpc_code="FailedPrecondition"}"#,
        1.0,
    )
    .await;
    expect_value(
        &prometheus,
        r#"grpc_client_handled_total{service_name="frontend",grpc_method="PlaceOrder",grpc_code="FailedPrecondition"}"#,
        1.0,
    )
    .await;
    expect_value(
        &prometheus,
        r#"http_server_requests_total{service_name="frontend",route="/cart/checkout",method="POST",status="422"}"#,
        1.0,
    )
    .await;
    expect_value(
        &prometheus,
        r#"boutique_cart_additions_total{service_name="cart"}"#,
        2.0,
    )
    .await;
    // One order and one email, not two (polled: a scrape that timed out on
    // a busy machine leaves no value until the next one).
    expect_value(&prometheus, "boutique_orders_placed_total", 1.0).await;
    expect_value(&prometheus, "boutique_emails_sent_total", 1.0).await;

    // A card number that fails the Luhn check is refused by the storefront's
    // form validation: 422 naming the field, and checkout is never asked.
    let refused = checkout(&shop, &client, "4432801561520455", "2039", &[]).await;
    assert_eq!(refused.0, 422, "{}", refused.1);
    assert!(
        refused
            .1
            .contains("Field &#39;CcNumber&#39; is invalid: is not a valid card number"),
        "{}",
        refused.1
    );
    expect_value(
        &prometheus,
        r#"sum(http_server_requests_total{service_name="frontend",method="POST",status="422"})"#,
        2.0,
    )
    .await;
    // Counted after the refusal: still two, so the storefront did not call
    // checkout for the form it refused.
    expect_value(
        &prometheus,
        r#"sum(grpc_server_handled_total{service_name="checkout",grpc_method="PlaceOrder"})"#,
        2.0,
    )
    .await;
    expect_by_label(
        &prometheus,
        "boutique_checkout_failures_total",
        "stage",
        &CHECKOUT_STAGES.map(|stage| (stage, f64::from(stage == "payment"))),
    )
    .await;
    // The refusal is labelled with the route it was sent to, like every
    // other response of that route: one series for both 422s.
    let refusals = prometheus
        .wait_for(
            r#"http_server_requests_total{service_name="frontend",method="POST",status="422"}"#,
            |s| s.len() == 1 && s[0].1 == 2.0,
            TIMEOUT,
        )
        .await;
    assert_eq!(refusals[0].0["route"], "/cart/checkout");
}

#[tokio::test]
#[cfg_attr(missing_promtool, ignore = "needs promtool (Debian prometheus)")]
async fn the_exposition_passes_promtool() {
    let Some(promtool) = find_program(
        "promtool",
        "PROMTOOL_BIN",
        "apt-get install --no-install-recommends prometheus",
    ) else {
        return;
    };
    let shop = Running::all(&[], &[]);
    let client = shopper();
    buy(&shop, &client, PRODUCT, &[]).await;

    let response = reqwest::get(&shop.metrics_url).await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "Content-Type {content_type:?}"
    );
    let exposition = response.text().await.unwrap();
    // Not a vacuous pass: the traffic's families are there.
    for family in [
        "boutique_orders_placed_total",
        "boutique_order_revenue_total",
        "grpc_server_handling_seconds_bucket",
        "grpc_client_handled_total",
        "http_server_requests_total",
        "process_resident_memory_bytes",
    ] {
        assert!(
            exposition.contains(&format!("\n{family}{{"))
                || exposition.contains(&format!("\n{family} ")),
            "no {family} in:\n{exposition}"
        );
    }

    let mut check = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", promtool.display()));
    let mut stdin = check.stdin.take().unwrap();
    // Written from a thread so a promtool that answers early cannot deadlock us.
    let writer = std::thread::spawn(move || stdin.write_all(exposition.as_bytes()));
    let output = check.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "promtool check metrics: {}: {said}",
        output.status
    );
    assert_eq!(said, "", "promtool check metrics complained");
}

/// The admin port as a scrape target, `host:port`.
fn admin_target(shop: &Running) -> String {
    shop.metrics_url
        .strip_prefix("http://")
        .and_then(|rest| rest.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("unexpected metrics url {}", shop.metrics_url))
        .to_owned()
}

/// The confirmation page's "Total Paid", e.g. `€123.45` as 123.45.
fn total_paid(page: &str) -> f64 {
    let marker = "data-testid=\"total\">";
    let start = page
        .find(marker)
        .unwrap_or_else(|| panic!("no total on the confirmation page: {page}"))
        + marker.len();
    let total = &page[start..start + page[start..].find('<').unwrap()];
    total
        .strip_prefix('€')
        .unwrap_or_else(|| panic!("the total {total:?} is not in euros"))
        .parse()
        .unwrap_or_else(|e| panic!("the total {total:?} is not a number: {e}"))
}

/// Waits until `expr` is exactly one series with value `expected`.
async fn expect_value(prometheus: &PrometheusServer, expr: &str, expected: f64) -> Vec<Sample> {
    prometheus
        .wait_for(expr, |s| s.len() == 1 && s[0].1 == expected, TIMEOUT)
        .await
}

/// Waits until `expr` has exactly `count` series.
async fn expect_count(prometheus: &PrometheusServer, expr: &str, count: usize) -> Vec<Sample> {
    prometheus
        .wait_for(expr, |s| s.len() == count, TIMEOUT)
        .await
}

/// Waits until `metric` has exactly one series per `(label value, value)`
/// pair, told apart by `label`.
async fn expect_by_label(
    prometheus: &PrometheusServer,
    metric: &str,
    label: &str,
    expected: &[(&str, f64)],
) -> Vec<Sample> {
    prometheus
        .wait_for(
            metric,
            |samples| {
                let mut seen: Vec<(&str, f64)> = samples
                    .iter()
                    .map(|(labels, value)| (labels.get(label).map_or("", String::as_str), *value))
                    .collect();
                seen.sort_by(|a, b| a.0.cmp(b.0));
                let mut want = expected.to_vec();
                want.sort_by(|a, b| a.0.cmp(b.0));
                seen == want
            },
            TIMEOUT,
        )
        .await
}
