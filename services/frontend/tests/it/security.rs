//! Headers, cross-site posts, 404s, static files and the small routes.

use reqwest::{Client, Method, StatusCode, redirect::Policy};

use crate::helpers::Shop;

fn client() -> Client {
    Client::builder().redirect(Policy::none()).build().unwrap()
}

#[tokio::test]
async fn every_response_carries_security_headers() {
    let shop = Shop::start().await;
    for path in ["/", "/nope", "/static/styles.css", "/_healthz"] {
        let response = client()
            .get(format!("{}{path}", shop.url))
            .send()
            .await
            .unwrap();
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert!(headers.contains_key("referrer-policy"), "{path}");
    }
    let page = client().get(format!("{}/", shop.url)).send().await.unwrap();
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(page.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn cross_site_posts_are_refused() {
    let shop = Shop::start().await;
    let host = shop.origin().trim_start_matches("http://").to_owned();
    let post = |headers: Vec<(&'static str, String)>, path: &'static str| {
        let mut request = client().post(format!("{}{path}", shop.url)).form(&[
            ("product_id", "OLJCESPC7Z"),
            ("quantity", "1"),
            ("currency_code", "EUR"),
        ]);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.send()
    };
    for path in ["/cart", "/setCurrency", "/cart/empty", "/cart/checkout"] {
        let response = post(vec![("sec-fetch-site", "cross-site".to_owned())], path)
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(response.text().await.unwrap().contains("another site"));
        let response = post(vec![("origin", "https://evil.example".to_owned())], path)
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        let response = post(vec![("origin", "null".to_owned())], path)
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
    }
    // Same-origin and same-site browsers, and clients sending neither header, pass.
    let accepted = [
        vec![
            ("sec-fetch-site", "same-origin".to_owned()),
            ("origin", format!("http://{host}")),
        ],
        vec![("sec-fetch-site", "same-site".to_owned())],
        vec![("sec-fetch-site", "none".to_owned())],
        vec![("origin", format!("http://{host}"))],
        vec![],
    ];
    for headers in accepted {
        let response = post(headers.clone(), "/cart").await.unwrap();
        assert_eq!(response.status(), StatusCode::FOUND, "{headers:?}");
    }
    // A cross-site GET is just a link: fine.
    let response = client()
        .get(format!("{}/", shop.url))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn unknown_things_are_404_pages() {
    let shop = Shop::start().await;
    for path in [
        "/product/NOSUCHTHING",
        "/product/..%2F..%2Fetc",
        "/nope",
        "/static/",
        "/static/img/",
        "/static/img/products/",
        "/static/../Cargo.toml",
        "/static/nope.css",
        "/cart/",
    ] {
        let response = client()
            .get(format!("{}{path}", shop.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        let html = response.text().await.unwrap();
        assert!(
            html.contains("We couldn&#39;t find that page")
                || html.contains("We couldn't find that page"),
            "{path}: {html}"
        );
        assert!(!html.contains("Index of"), "{path}");
    }
}

#[tokio::test]
async fn wrong_methods_are_405() {
    let shop = Shop::start().await;
    for (method, path) in [
        (Method::PUT, "/"),
        (Method::POST, "/"),
        (Method::GET, "/cart/checkout"),
        (Method::GET, "/setCurrency"),
        (Method::GET, "/cart/empty"),
        (Method::DELETE, "/cart"),
        (Method::POST, "/product/OLJCESPC7Z"),
        (Method::POST, "/logout"),
    ] {
        let response = client()
            .request(method.clone(), format!("{}{path}", shop.url))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
    }
    for path in ["/", "/product/OLJCESPC7Z", "/cart"] {
        let response = client()
            .head(format!("{}{path}", shop.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "HEAD {path}");
        assert!(response.bytes().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn static_files_are_embedded_typed_and_cached() {
    let shop = Shop::start().await;
    let css = client()
        .get(format!("{}/static/styles.css", shop.url))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), StatusCode::OK);
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert!(
        css.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    let etag = css.headers()["etag"].clone();
    let again = client()
        .get(format!("{}/static/styles.css", shop.url))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    for name in [
        "sunglasses",
        "tank-top",
        "watch",
        "loafers",
        "hairdryer",
        "candle-holder",
        "salt-and-pepper-shakers",
        "bamboo-glass-jar",
        "mug",
    ] {
        let response = client()
            .get(format!("{}/static/img/products/{name}.jpg", shop.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{name}");
        assert_eq!(response.headers()["content-type"], "image/svg+xml");
        assert!(response.text().await.unwrap().starts_with("<svg"), "{name}");
    }
    for path in ["/static/logo.svg", "/static/favicon.svg", "/static/app.js"] {
        let response = client()
            .get(format!("{}{path}", shop.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn product_meta_is_upstream_json() {
    let shop = Shop::start().await;
    let response = client()
        .get(format!("{}/product-meta/OLJCESPC7Z", shop.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    let json: serde_json::Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(json["id"], "OLJCESPC7Z");
    assert_eq!(json["name"], "Sunglasses");
    assert_eq!(json["picture"], "/static/img/products/sunglasses.jpg");
    assert_eq!(json["price_usd"]["currency_code"], "USD");
    assert_eq!(json["price_usd"]["units"], 19);
    assert_eq!(json["price_usd"]["nanos"], 990_000_000);
    assert_eq!(json["categories"], serde_json::json!(["accessories"]));
    assert!(json.get("priceUsd").is_none());

    let missing = client()
        .get(format!("{}/product-meta/NOSUCHTHING", shop.url))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let json: serde_json::Value = serde_json::from_str(&missing.text().await.unwrap()).unwrap();
    assert_eq!(json["error"], "product not found");
}

#[tokio::test]
async fn robots_and_health() {
    let shop = Shop::start().await;
    for method in [Method::GET, Method::POST] {
        let robots = client()
            .request(method.clone(), format!("{}/robots.txt", shop.url))
            .send()
            .await
            .unwrap();
        assert_eq!(robots.status(), StatusCode::OK);
        assert_eq!(robots.text().await.unwrap(), "User-agent: *\nDisallow: /");
        let health = client()
            .request(method, format!("{}/_healthz", shop.url))
            .send()
            .await
            .unwrap();
        assert_eq!(health.text().await.unwrap(), "ok");
    }
}

#[tokio::test]
async fn the_frontend_shuts_down_cleanly() {
    let shop = Shop::start().await;
    let browser = shop.browser();
    assert_eq!(browser.get("/").await.status(), StatusCode::OK);
    let url = shop.url.clone();
    shop.stop_frontend().await;
    let refused = client().get(format!("{url}/_healthz")).send().await;
    assert!(refused.is_err(), "still serving after shutdown");
}
