//! Each dependency really stopped: optional parts vanish, essential ones give
//! a friendly 503 with a request id and nothing internal.

use reqwest::StatusCode;

use crate::helpers::{Shop, Svc, as_pairs, checkout_form, this_year};

/// Words that would betray internals on a page meant for shoppers.
const INTERNALS: [&str; 8] = [
    "tonic",
    "transport",
    "127.0.0.1",
    "grpc",
    "status:",
    "code:",
    "productcatalog",
    "connection",
];

async fn expect_friendly_503(response: reqwest::Response) {
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let html = response.text().await.unwrap();
    assert!(html.contains("taking a short break"), "{html}");
    let marker = "Request ID: <code>";
    let start = html.find(marker).expect("request id shown") + marker.len();
    assert_eq!(html[start..].find('<'), Some(36), "a UUID request id");
    for word in INTERNALS {
        assert!(!html.contains(word), "page leaks {word:?}");
    }
}

#[tokio::test]
async fn without_ads_the_product_page_still_renders() {
    let mut shop = Shop::start().await;
    let browser = shop.browser();
    browser.product_page("1YMWWN1N4O").await;
    shop.stop(Svc::Ad).await;
    let html = browser.page("/product/1YMWWN1N4O").await;
    assert!(!html.contains("class=\"ad\""));
    assert!(html.contains("Add To Cart"));
}

#[tokio::test]
async fn without_recommendations_pages_still_render() {
    let mut shop = Shop::start().await;
    let browser = shop.browser();
    browser.add_to_cart("6E92ZMYYFZ", 1).await;
    shop.stop(Svc::Recommendation).await;
    let product = browser.page("/product/OLJCESPC7Z").await;
    assert!(!product.contains("You May Also Like"));
    assert!(product.contains("<h1>Sunglasses</h1>"));
    let cart = browser.page("/cart").await;
    assert!(!cart.contains("You May Also Like"));
    assert!(cart.contains("SKU #6E92ZMYYFZ"));
    let form = checkout_form("4432801561520454", this_year() + 1);
    let order = browser.post("/cart/checkout", &as_pairs(&form)).await;
    assert_eq!(order.status(), StatusCode::OK);
    assert!(
        order
            .text()
            .await
            .unwrap()
            .contains("Your order is complete!")
    );
}

#[tokio::test]
async fn without_the_catalog_pages_are_a_friendly_503() {
    let mut shop = Shop::start().await;
    let browser = shop.browser();
    shop.stop(Svc::Catalog).await;
    expect_friendly_503(browser.get("/").await).await;
    expect_friendly_503(browser.get("/product/OLJCESPC7Z").await).await;
    let meta = browser.get("/product-meta/OLJCESPC7Z").await;
    assert_eq!(meta.status(), StatusCode::SERVICE_UNAVAILABLE);
    // Health does not depend on the backends.
    assert_eq!(browser.get("/_healthz").await.status(), StatusCode::OK);
}

/// The currency switcher's form on a page.
const SWITCHER: &str = "class=\"currency-form\"";

/// The cart badge on a page.
const BADGE: &str = "data-testid=\"cart-size\"";

#[tokio::test]
async fn without_currency_dollar_pages_render_with_the_last_known_switcher() {
    // No caching, so every page asks the currency service.
    let mut shop = Shop::start_with(&[("CACHE_TTL", "0")]).await;
    let browser = shop.browser();
    browser.add_to_cart("OLJCESPC7Z", 1).await;
    let euros = shop.browser();
    euros.set_currency("EUR").await;
    assert!(browser.page("/").await.contains(SWITCHER));
    shop.stop(Svc::Currency).await;
    for path in ["/", "/product/OLJCESPC7Z", "/cart"] {
        let response = browser.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let html = response.text().await.unwrap();
        assert!(html.contains(SWITCHER), "{path}: the last list known");
        assert!(html.contains("$"), "{path}: prices in dollars");
    }
    // Prices in euros need the currency service itself.
    expect_friendly_503(euros.get("/").await).await;
    expect_friendly_503(euros.get("/product/OLJCESPC7Z").await).await;
}

#[tokio::test]
async fn without_a_currency_list_ever_seen_the_switcher_is_hidden() {
    let mut shop = Shop::start_with(&[("CACHE_TTL", "0")]).await;
    let browser = shop.browser();
    shop.stop(Svc::Currency).await;
    let html = browser.page("/").await;
    assert!(!html.contains(SWITCHER));
    assert!(html.contains("Sunglasses"));
}

#[tokio::test]
async fn without_the_cart_browsing_works_and_the_badge_is_hidden() {
    let mut shop = Shop::start().await;
    let browser = shop.browser();
    browser.add_to_cart("OLJCESPC7Z", 1).await;
    assert!(browser.page("/").await.contains(BADGE));
    shop.stop(Svc::Cart).await;
    for path in ["/", "/product/OLJCESPC7Z"] {
        let response = browser.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let html = response.text().await.unwrap();
        assert!(!html.contains(BADGE), "{path}: badge hidden");
        assert!(html.contains("Sunglasses"), "{path}");
    }
    // What needs the cart itself is a friendly 503.
    expect_friendly_503(browser.get("/cart").await).await;
    expect_friendly_503(
        browser
            .post("/cart", &[("product_id", "OLJCESPC7Z"), ("quantity", "1")])
            .await,
    )
    .await;
}

#[tokio::test]
async fn without_checkout_the_cart_is_kept_with_a_message() {
    let mut shop = Shop::start().await;
    let browser = shop.browser();
    browser.add_to_cart("OLJCESPC7Z", 1).await;
    shop.stop(Svc::Checkout).await;
    let form = checkout_form("4432801561520454", this_year() + 1);
    let response = browser.post("/cart/checkout", &as_pairs(&form)).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let html = response.text().await.unwrap();
    assert!(html.contains("role=\"alert\""));
    assert!(html.contains("Your cart is kept"));
    assert!(html.contains("SKU #OLJCESPC7Z"));
    for word in INTERNALS {
        assert!(!html.contains(word), "page leaks {word:?}");
    }
}

#[tokio::test]
async fn without_shipping_a_failed_order_still_explains_itself() {
    let mut shop = Shop::start().await;
    let browser = shop.browser();
    browser.add_to_cart("OLJCESPC7Z", 1).await;
    shop.stop(Svc::Shipping).await;
    // The cart page itself needs a shipping quote.
    expect_friendly_503(browser.get("/cart").await).await;
    let form = checkout_form("4432801561520454", this_year() + 1);
    let response = browser.post("/cart/checkout", &as_pairs(&form)).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let html = response.text().await.unwrap();
    assert!(html.contains("Your order could not be placed"), "{html}");
    assert!(html.contains("Your cart is kept"));
    for word in INTERNALS {
        assert!(!html.contains(word), "page leaks {word:?}");
    }
}

#[tokio::test]
async fn with_caching_off_a_catalog_outage_shows_at_once() {
    let mut shop = Shop::start_with(&[("CACHE_TTL", "0")]).await;
    let browser = shop.browser();
    assert!(
        browser
            .page("/product/OLJCESPC7Z")
            .await
            .contains("Sunglasses")
    );
    shop.stop(Svc::Catalog).await;
    expect_friendly_503(browser.get("/").await).await;
    expect_friendly_503(browser.get("/product/OLJCESPC7Z").await).await;
}

#[tokio::test]
async fn cached_answers_expire_so_an_outage_shows_within_the_ttl() {
    let ttl = std::time::Duration::from_millis(300);
    let mut shop = Shop::start_with(&[("CACHE_TTL", "300ms")]).await;
    let browser = shop.browser();
    // Fills the catalog, currency list and conversion caches; every entry
    // was loaded before the page came back, so none outlives `warmed + ttl`.
    assert!(
        browser
            .page("/product/OLJCESPC7Z")
            .await
            .contains("Sunglasses")
    );
    let warmed = tokio::time::Instant::now();
    shop.stop(Svc::Catalog).await;
    shop.stop(Svc::Currency).await;
    // Waiting out the TTL is the behaviour under test, not a readiness guess.
    tokio::time::sleep_until(warmed + ttl + std::time::Duration::from_millis(50)).await;
    expect_friendly_503(browser.get("/").await).await;
    expect_friendly_503(browser.get("/product/OLJCESPC7Z").await).await;
}

#[tokio::test]
async fn without_orders_only_the_order_pages_are_a_503() {
    let mut shop = Shop::start().await;
    let browser = shop.browser();
    shop.stop(Svc::Orders).await;
    expect_friendly_503(browser.get("/orders").await).await;
    expect_friendly_503(
        browser
            .get("/orders/0b6f5a8e-4f38-4c43-9d3f-2f0f2f7b9a11")
            .await,
    )
    .await;
    for path in [
        "/api/v1/orders",
        "/api/orders",
        "/api/v1/orders/0b6f5a8e-4f38-4c43-9d3f-2f0f2f7b9a11",
    ] {
        let response = browser.get(path).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{path}"
        );
        let body = response.text().await.unwrap();
        for word in INTERNALS {
            assert!(!body.contains(word), "{path} leaks {word:?}");
        }
        let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(problem["status"], 503);
        assert_eq!(problem["code"], "SERVICE_UNAVAILABLE");
    }
    // Nothing else asks the orders service.
    browser.page("/").await;
    browser.page("/product/OLJCESPC7Z").await;
    browser.add_to_cart("OLJCESPC7Z", 1).await;
    browser.page("/cart").await;
    browser.page("/assistant").await;
}
