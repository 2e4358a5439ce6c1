//! The load generator against a small storefront stand-in on 127.0.0.1: the
//! upstream routes, session cookies and redirects, upstream's form checks, and
//! switches to fail a route or stall once. Every run is bounded by a request
//! count or a short duration.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{
    Form, Router,
    extract::{Path, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use boutique_loadgen::{Args, Error, Loadgen, Report, RouteStats, ThinkTime, fake};
use tokio::sync::Notify;

/// What the stand-in saw and how it misbehaves.
#[derive(Debug, Default)]
struct Shop {
    /// Requests per `METHOD /path` (product pages grouped), as the server saw them.
    seen: Mutex<HashMap<String, u64>>,
    /// Session cookies handed out, i.e. requests that arrived without one.
    sessions_minted: AtomicU64,
    /// Requests handled so far.
    handled: AtomicU64,
    /// Respond 500 to this `METHOD /path`.
    fail: Option<&'static str>,
    /// Hold the n-th request (1-based) for this long.
    stall: Option<(u64, Duration)>,
    /// Hold the n-th request (1-based) until the test lets it go.
    hold: Option<(u64, Arc<Notify>)>,
    /// Why checkout forms were rejected, if any were.
    rejected_checkouts: Mutex<Vec<String>>,
}

impl Shop {
    fn seen(&self, key: &str) -> u64 {
        self.seen.lock().unwrap().get(key).copied().unwrap_or(0)
    }
}

async fn track(State(shop): State<Arc<Shop>>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let name = if path.starts_with("/product/") {
        "/product/{id}"
    } else {
        path
    };
    let key = format!("{} {name}", request.method());
    *shop.seen.lock().unwrap().entry(key.clone()).or_default() += 1;
    let nth = shop.handled.fetch_add(1, Ordering::SeqCst) + 1;
    if let Some((at, pause)) = shop.stall
        && nth == at
    {
        // The one slow response the open-loop test is about.
        tokio::time::sleep(pause).await;
    }
    if let Some((at, gate)) = &shop.hold
        && nth == *at
    {
        gate.notified().await;
    }
    let has_session = request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .any(|v| v.to_str().unwrap_or("").contains("shop_session-id="));
    let mut response = if shop.fail == Some(key.as_str()) {
        (StatusCode::INTERNAL_SERVER_ERROR, "injected failure").into_response()
    } else {
        next.run(request).await
    };
    if !has_session {
        let id = shop.sessions_minted.fetch_add(1, Ordering::SeqCst);
        response.headers_mut().append(
            header::SET_COOKIE,
            HeaderValue::from_str(&format!("shop_session-id=s{id}; Path=/; Max-Age=172800"))
                .unwrap(),
        );
    }
    response
}

async fn page() -> &'static str {
    "<html>a page</html>"
}

async fn product(Path(id): Path<String>) -> Response {
    if fake::PRODUCTS.contains(&id.as_str()) {
        "<html>a product</html>".into_response()
    } else {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "could not retrieve product",
        )
            .into_response()
    }
}

async fn add_to_cart(Form(form): Form<HashMap<String, String>>) -> Response {
    let product_ok = form
        .get("product_id")
        .is_some_and(|id| fake::PRODUCTS.contains(&id.as_str()));
    let quantity_ok = form
        .get("quantity")
        .and_then(|q| q.parse::<u32>().ok())
        .is_some_and(|q| (1..=10).contains(&q));
    if product_ok && quantity_ok {
        Redirect::to("/cart").into_response()
    } else {
        StatusCode::UNPROCESSABLE_ENTITY.into_response()
    }
}

async fn set_currency(headers: HeaderMap, Form(form): Form<HashMap<String, String>>) -> Response {
    let code = form.get("currency_code").map(String::as_str).unwrap_or("");
    if !fake::CURRENCIES.contains(&code) {
        return StatusCode::UNPROCESSABLE_ENTITY.into_response();
    }
    // Upstream redirects to the Referer, which the shopper never sends.
    let to = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("/");
    Redirect::to(to).into_response()
}

/// Upstream's checkout rules, written independently of the generator's code.
fn checkout_problems(form: &HashMap<String, String>) -> Vec<String> {
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
    let mut problems = Vec::new();
    let email = field("email");
    let valid_email = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && domain.contains('.') && !email.contains(' ')
    });
    if !valid_email {
        problems.push(format!("email {email:?}"));
    }
    for (name, max) in [
        ("street_address", 512),
        ("city", 128),
        ("state", 128),
        ("country", 128),
    ] {
        let value = field(name);
        if value.is_empty() || value.chars().count() > max {
            problems.push(format!("{name} {value:?}"));
        }
    }
    let zip = field("zip_code");
    if zip.len() != 5 || !zip.bytes().all(|b| b.is_ascii_digit()) || zip == "00000" {
        problems.push(format!("zip {zip:?}"));
    }
    let card = field("credit_card_number");
    let digits: Vec<u32> = card.chars().filter_map(|c| c.to_digit(10)).collect();
    let luhn_sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                if d * 2 > 9 { d * 2 - 9 } else { d * 2 }
            } else {
                d
            }
        })
        .sum();
    if digits.len() != 16
        || digits.len() != card.len()
        || !card.starts_with('4')
        || !luhn_sum.is_multiple_of(10)
    {
        problems.push(format!("card {card:?}"));
    }
    let month: u32 = field("credit_card_expiration_month").parse().unwrap_or(0);
    if !(1..=12).contains(&month) {
        problems.push(format!("month {month}"));
    }
    let year: i32 = field("credit_card_expiration_year").parse().unwrap_or(0);
    let this_year = fake::this_year();
    if !(this_year + 1..=this_year + 70).contains(&year) {
        problems.push(format!("year {year}"));
    }
    let cvv: u32 = field("credit_card_cvv").parse().unwrap_or(0);
    if !(100..=999).contains(&cvv) {
        problems.push(format!("cvv {cvv}"));
    }
    problems
}

async fn checkout(
    State(shop): State<Arc<Shop>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let problems = checkout_problems(&form);
    if problems.is_empty() {
        "<html>Your order is complete!</html>".into_response()
    } else {
        shop.rejected_checkouts
            .lock()
            .unwrap()
            .extend(problems.iter().cloned());
        (StatusCode::UNPROCESSABLE_ENTITY, problems.join("\n")).into_response()
    }
}

/// Starts the stand-in on 127.0.0.1:0; returns its address and what it sees.
async fn start(shop: Shop) -> (String, Arc<Shop>) {
    let shop = Arc::new(shop);
    let app = Router::new()
        .route("/", get(page))
        .route("/product/{id}", get(product))
        .route("/cart", get(page).post(add_to_cart))
        .route("/setCurrency", post(set_currency))
        .route("/cart/checkout", post(checkout))
        .layer(middleware::from_fn_with_state(shop.clone(), track))
        .with_state(shop.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr.to_string(), shop)
}

/// Fast, quiet, reproducible options for `target`.
fn args(target: &str) -> Args {
    let mut args = Args::new(target);
    args.quiet = true;
    args.think_time = ThinkTime {
        min: Duration::ZERO,
        max: Duration::ZERO,
    };
    args.spawn_rate = 1000.0;
    args.users = 4;
    args.seed = Some(42);
    args.timeout = Duration::from_secs(20);
    args
}

fn route<'a>(report: &'a Report, method: &str, name: &str) -> &'a RouteStats {
    report
        .routes
        .iter()
        .find(|r| r.method == method && r.name == name)
        .unwrap_or_else(|| panic!("no {method} {name} in {:#?}", report.routes))
}

fn count(report: &Report, method: &str, name: &str) -> u64 {
    report
        .routes
        .iter()
        .find(|r| r.method == method && r.name == name)
        .map_or(0, |r| r.requests)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_request_count_spread_by_weight_with_no_failures() {
    let (addr, shop) = start(Shop::default()).await;
    let mut args = args(&addr);
    args.users = 8;
    args.requests = Some(2300);
    let report = boutique_loadgen::run(args).await.unwrap();

    assert_eq!(report.requests, 2300);
    assert_eq!(report.routes.iter().map(|r| r.requests).sum::<u64>(), 2300);
    assert_eq!(report.failures, 0, "{}", report.to_text());
    assert!(report.passed);
    assert_eq!(report.exit_status(), 0);
    assert!(shop.rejected_checkouts.lock().unwrap().is_empty());

    // Per 19 tasks upstream makes 23 requests: home 1, setCurrency 2,
    // product 10 + 2 (addToCart) + 1 (checkout), POST /cart 3, GET /cart 3, checkout 1.
    for (method, name, share) in [
        ("GET", "/", 1),
        ("POST", "/setCurrency", 2),
        ("GET", "/product/{id}", 13),
        ("POST", "/cart", 3),
        ("GET", "/cart", 3),
        ("POST", "/cart/checkout", 1),
    ] {
        let expected = 2300.0 * f64::from(share) / 23.0;
        let got = count(&report, method, name) as f64;
        assert!(
            (got - expected).abs() <= expected * 0.4 + 8.0,
            "{method} {name}: {got} requests, expected about {expected}"
        );
    }

    // Redirects were followed but not counted as requests of their own:
    // every setCurrency landed on the home page, every add-to-cart on the cart.
    let set_currency = count(&report, "POST", "/setCurrency");
    let add_to_cart = count(&report, "POST", "/cart");
    assert_eq!(shop.seen("POST /setCurrency"), set_currency);
    assert_eq!(
        shop.seen("GET /"),
        count(&report, "GET", "/") + set_currency
    );
    assert_eq!(
        shop.seen("GET /cart"),
        count(&report, "GET", "/cart") + add_to_cart
    );
    assert_eq!(
        shop.seen("GET /product/{id}"),
        count(&report, "GET", "/product/{id}")
    );
    assert_eq!(
        shop.seen("POST /cart/checkout"),
        count(&report, "POST", "/cart/checkout")
    );

    // One cookie jar per user: each user got a session once and kept it.
    assert_eq!(shop.sessions_minted.load(Ordering::SeqCst), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_counted_by_final_status_with_reasons() {
    // The home page fails, and setCurrency redirects there.
    let (addr, _shop) = start(Shop {
        fail: Some("GET /"),
        ..Shop::default()
    })
    .await;
    let mut args = args(&addr);
    args.requests = Some(500);
    let report = boutique_loadgen::run(args.clone()).await.unwrap();

    let home = route(&report, "GET", "/");
    let set_currency = route(&report, "POST", "/setCurrency");
    assert_eq!(home.failures, home.requests);
    assert_eq!(set_currency.failures, set_currency.requests);
    assert_eq!(
        home.failure_reasons.get("HTTP 500 Internal Server Error"),
        Some(&home.requests)
    );
    assert_eq!(report.failures, home.requests + set_currency.requests);
    assert_eq!(route(&report, "GET", "/product/{id}").failures, 0);
    assert_eq!(
        report
            .aggregate
            .failure_reasons
            .get("HTTP 500 Internal Server Error"),
        Some(&report.failures)
    );
    assert!(
        report.failure_ratio > 0.05 && report.failure_ratio < 0.4,
        "{}",
        report.failure_ratio
    );
    assert!(!report.passed, "default threshold is 0");
    assert_eq!(report.exit_status(), 1);
    assert!(report.to_text().contains("HTTP 500 Internal Server Error"));

    args.max_failure_ratio = 0.5;
    let tolerant = boutique_loadgen::run(args).await.unwrap();
    assert!(tolerant.failures > 0);
    assert!(tolerant.passed);
    assert_eq!(tolerant.exit_status(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_target_fails_every_request() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut args = args(&format!("http://127.0.0.1:{port}"));
    args.requests = Some(20);
    let report = boutique_loadgen::run(args).await.unwrap();
    assert_eq!(report.requests, 20);
    assert_eq!(report.failures, 20);
    assert!(
        report
            .aggregate
            .failure_reasons
            .keys()
            .all(|r| r.starts_with("connect")),
        "{report:#?}"
    );
    assert_eq!(report.exit_status(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_latency_counts_from_the_intended_send_time() {
    let stall = Duration::from_millis(500);
    // One connection at 100 req/s: while request 40 stalls, about 50 slots
    // come due and must wait for it.
    let (addr, _shop) = start(Shop {
        stall: Some((40, stall)),
        ..Shop::default()
    })
    .await;
    let mut args = args(&addr);
    args.users = 1;
    args.requests = Some(200);
    args.rate = Some(100.0);
    let open = boutique_loadgen::run(args).await.unwrap();
    assert_eq!(open.mode, "open");
    assert_eq!(open.requests, 200);
    assert_eq!(open.failures, 0);
    let latency = open.aggregate.latency_ms;
    assert!(latency.max >= 500.0, "{latency:?}");
    // A quarter of the requests were scheduled during the stall.
    assert!(latency.p99 >= 400.0, "{latency:?}");
    assert!(latency.p90 >= 200.0, "{latency:?}");

    // The same stall measured closed-loop hits a single request only.
    let (addr, _shop) = start(Shop {
        stall: Some((40, stall)),
        ..Shop::default()
    })
    .await;
    let mut args = self::args(&addr);
    args.users = 1;
    args.requests = Some(200);
    let closed = boutique_loadgen::run(args).await.unwrap();
    let latency = closed.aggregate.latency_ms;
    assert!(latency.max >= 500.0, "{latency:?}");
    assert!(latency.p90 < 250.0, "{latency:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_think_time_makes_many_requests_and_default_think_time_few() {
    let (addr, _shop) = start(Shop::default()).await;
    let mut args = args(&addr);
    args.duration = Some(Duration::from_secs(1));
    let busy = boutique_loadgen::run(args.clone()).await.unwrap();
    assert!(busy.requests >= 100, "{} requests", busy.requests);
    assert_eq!(busy.failures, 0);

    // Upstream's 1-10 s think time: each user makes its first one or two
    // tasks (at most 1 + 3 requests) within the second, then thinks; the
    // deadline wakes it up rather than waiting the pause out.
    args.think_time = ThinkTime {
        min: Duration::from_secs(1),
        max: Duration::from_secs(10),
    };
    let started = std::time::Instant::now();
    let idle = boutique_loadgen::run(args).await.unwrap();
    assert!(
        idle.requests >= 4 && idle.requests <= 4 * 4 * 2,
        "{} requests",
        idle.requests
    );
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "sleepers must be woken"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_report_parses_with_ordered_percentiles() {
    let (addr, _shop) = start(Shop::default()).await;
    let mut args = args(&addr);
    args.requests = Some(300);
    let report = boutique_loadgen::run(args).await.unwrap();
    let json = report.to_json();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["requests"], 300);
    assert_eq!(value["aggregate"]["name"], "Aggregated");
    assert!(value["routes"].as_array().unwrap().len() >= 4);
    let parsed: Report = serde_json::from_str(&json).unwrap();
    // Floats may differ in the last bit after a JSON round trip; counts may not.
    assert_eq!(parsed.requests, report.requests);
    let rows = |r: &Report| {
        r.routes
            .iter()
            .map(|row| {
                (
                    row.method.clone(),
                    row.name.clone(),
                    row.requests,
                    row.failures,
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(rows(&parsed), rows(&report));
    assert!((parsed.aggregate.latency_ms.p99 - report.aggregate.latency_ms.p99).abs() < 1e-9);
    for row in parsed.routes.iter().chain([&parsed.aggregate]) {
        let l = row.latency_ms;
        assert!(l.p50 > 0.0, "{row:?}");
        assert!(
            l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max,
            "{row:?}"
        );
        assert!(row.req_per_s > 0.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_mode_gets_only_the_given_pages_like_wrk() {
    let (addr, shop) = start(Shop::default()).await;
    let mut args = args(&addr);
    args.users = 4;
    args.requests = Some(400);
    args.page = vec!["/product/OLJCESPC7Z".to_owned(), "/cart".to_owned()];
    let report = boutique_loadgen::run(args).await.unwrap();

    assert_eq!(report.requests, 400);
    assert_eq!(report.failures, 0, "{}", report.to_text());
    // One row per page, named by its path; nothing of the shopper's mix.
    let names: Vec<&str> = report.routes.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["/product/OLJCESPC7Z", "/cart"]);
    let product = route(&report, "GET", "/product/OLJCESPC7Z").requests;
    let cart = route(&report, "GET", "/cart").requests;
    assert_eq!(product + cart, 400);
    // Users take the pages in turn, so the split is even (to within the
    // requests in flight when the budget ran out).
    assert!(product.abs_diff(cart) <= 4, "{product} vs {cart}");
    // The server saw exactly those requests: no on_start home page, no redirects.
    assert_eq!(shop.seen("GET /product/{id}"), product);
    assert_eq!(shop.seen("GET /cart"), cart);
    assert_eq!(shop.seen("GET /"), 0);
    assert_eq!(shop.handled.load(Ordering::SeqCst), 400);
    // Still one cookie jar per user.
    assert_eq!(shop.sessions_minted.load(Ordering::SeqCst), 4);
}

/// The value of the series `name{labels}` in a Prometheus text exposition.
fn series(exposition: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    exposition.lines().find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (metric, set) = match series.split_once('{') {
            Some((metric, rest)) => (metric, rest.strip_suffix('}')?),
            None => (series, ""),
        };
        let mut found: Vec<(&str, &str)> = set
            .split(',')
            .filter(|pair| !pair.is_empty())
            .filter_map(|pair| {
                let (key, value) = pair.split_once('=')?;
                Some((key, value.trim_matches('"')))
            })
            .collect();
        let mut wanted = labels.to_vec();
        found.sort_unstable();
        wanted.sort_unstable();
        (metric == name && found == wanted).then(|| value.parse().ok())?
    })
}

/// The sum of every `name` series.
fn total(exposition: &str, name: &str) -> f64 {
    exposition
        .lines()
        .filter(|line| {
            line.starts_with(&format!("{name}{{")) || line.starts_with(&format!("{name} "))
        })
        .filter_map(|line| line.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_port_serves_health_and_the_runs_metrics_while_it_runs() {
    // One user alternating `/` (fine) and `/cart` (failing); the tenth and last
    // request, a `/cart`, is held until the metrics have been checked.
    let gate = Arc::new(Notify::new());
    let (addr, shop) = start(Shop {
        fail: Some("GET /cart"),
        hold: Some((10, gate.clone())),
        ..Shop::default()
    })
    .await;
    let mut args = args(&addr);
    args.users = 1;
    args.requests = Some(10);
    args.page = vec!["/".to_owned(), "/cart".to_owned()];
    args.max_failure_ratio = 1.0;
    args.listen_addr = [127, 0, 0, 1].into();
    args.admin_port = Some(0);
    let loadgen = Loadgen::bind(args).await.unwrap();
    let admin = loadgen.admin_addr();
    assert!(admin.ip().is_loopback() && admin.port() != 0, "{admin}");
    let run = tokio::spawn(loadgen.run());

    let http = reqwest::Client::new();
    let health = http
        .get(format!("http://{admin}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok\n");

    // The collector records each request as it finishes: wait until all nine
    // finished ones are counted (the tenth is held).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let exposition = loop {
        let response = http
            .get(format!("http://{admin}/metrics"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let content_type = response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            content_type.starts_with("text/plain; version=0.0.4"),
            "{content_type}"
        );
        let text = response.text().await.unwrap();
        if total(&text, "loadgen_requests_total") >= 9.0 {
            break text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the nine finished requests were not counted in time:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let requests = |route: &str, outcome: &str| {
        series(
            &exposition,
            "loadgen_requests_total",
            &[("method", "GET"), ("route", route), ("outcome", outcome)],
        )
    };
    assert_eq!(requests("/", "ok"), Some(5.0), "{exposition}");
    assert_eq!(requests("/cart", "http_error"), Some(4.0), "{exposition}");
    // Every outcome of every route is there from the start, at zero.
    for outcome in ["timeout", "connection_error", "http_error"] {
        assert_eq!(requests("/", outcome), Some(0.0), "{outcome}: {exposition}");
    }
    assert_eq!(requests("/cart", "ok"), Some(0.0), "{exposition}");
    assert_eq!(total(&exposition, "loadgen_requests_total"), 9.0);
    for (route, count) in [("/", 5.0), ("/cart", 4.0)] {
        let labels = [("method", "GET"), ("route", route)];
        assert_eq!(
            series(
                &exposition,
                "loadgen_request_duration_seconds_count",
                &labels
            ),
            Some(count),
            "{exposition}"
        );
        let mut inf = labels.to_vec();
        inf.push(("le", "+Inf"));
        assert_eq!(
            series(&exposition, "loadgen_request_duration_seconds_bucket", &inf),
            Some(count),
            "{exposition}"
        );
    }
    // The process metrics come along, as on every admin port.
    if cfg!(target_os = "linux") {
        assert!(
            total(&exposition, "process_resident_memory_bytes") > 0.0,
            "{exposition}"
        );
    }

    gate.notify_one();
    let report = run.await.unwrap().unwrap();
    assert_eq!(report.requests, 10);
    assert_eq!(report.failures, 5, "{}", report.to_text());
    assert_eq!(shop.seen("GET /cart"), 5);
    // The admin port goes with the run.
    assert!(
        http.get(format!("http://{admin}/healthz"))
            .send()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn an_admin_port_asked_for_must_be_free_the_default_falls_back() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut args = args("127.0.0.1:1");
    args.listen_addr = [127, 0, 0, 1].into();
    args.admin_port = Some(port);
    match Loadgen::bind(args.clone()).await {
        Err(Error::Admin { addr, .. }) => assert_eq!(addr.port(), port),
        other => panic!("expected the admin port to be refused, got {other:?}"),
    }

    // The default port, taken here (by this test if it can, else by whoever
    // holds it already): the generator runs on a free port instead.
    let _default = std::net::TcpListener::bind("127.0.0.1:9464");
    args.admin_port = None;
    let loadgen = Loadgen::bind(args.clone()).await.unwrap();
    assert_ne!(loadgen.admin_addr().port(), 9464);
    assert_ne!(loadgen.admin_addr().port(), 0);

    // A bad target fails before anything is bound.
    args.target = "https://shop".to_owned();
    assert!(matches!(
        Loadgen::bind(args).await,
        Err(Error::Target { .. })
    ));
}
