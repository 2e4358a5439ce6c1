//! The REST API over real HTTP: products, currencies, the cart, health, the
//! OpenAPI document and its reference page, and every bad input answered
//! with a 4xx problem document.

use std::collections::BTreeSet;

use reqwest::{Response, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{Browser, Shop, cookie_value, price_text, rounded, set_cookies, usd_to};

/// The catalog's first products, in order, with their USD prices in nanos.
const SUNGLASSES: (&str, i128) = ("OLJCESPC7Z", 19_990_000_000);

/// The problem document's shape, whatever the problem.
pub(crate) fn assert_problem_shape(problem: &Value, status: StatusCode) {
    assert_eq!(problem["status"], status.as_u16(), "{problem}");
    let code = problem["code"].as_str().expect("a code");
    assert!(
        code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'),
        "{problem}"
    );
    let anchor = format!(
        "/api/v1/docs#problem-{}",
        code.to_ascii_lowercase().replace('_', "-")
    );
    assert!(
        problem["type"].as_str().unwrap().ends_with(&anchor),
        "{problem}"
    );
    assert!(problem["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()));
    assert!(
        problem["instance"]
            .as_str()
            .is_some_and(|i| i.starts_with("urn:uuid:"))
    );
}

/// The JSON body of a response that must have `status`.
pub(crate) async fn json_of(response: Response, status: StatusCode) -> Value {
    let got = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(got, status, "{body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// The problem document of a response that must have `status` and `code`.
pub(crate) async fn problem_of(response: Response, status: StatusCode, code: &str) -> Value {
    let content_type = response.headers()[header::CONTENT_TYPE].clone();
    let problem = json_of(response, status).await;
    assert_eq!(content_type, "application/problem+json", "{problem}");
    assert_problem_shape(&problem, status);
    assert_eq!(problem["code"], code, "{problem}");
    problem
}

/// Sends `body` as JSON with `method`.
pub(crate) async fn send_json(
    browser: &Browser,
    method: reqwest::Method,
    path: &str,
    body: &Value,
) -> Response {
    browser
        .client
        .request(method, format!("{}{path}", browser.url))
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

pub(crate) async fn add_item(browser: &Browser, product_id: &str, quantity: i64) -> Value {
    let response = send_json(
        browser,
        reqwest::Method::POST,
        "/api/v1/cart/items",
        &json!({"product_id": product_id, "quantity": quantity}),
    )
    .await;
    json_of(response, StatusCode::OK).await
}

/// Money as the API writes it, checked against an independent computation.
fn assert_money(money: &Value, code: &str, nanos: i128) {
    assert_eq!(money["currency_code"], code, "{money}");
    let units = money["units"].as_i64().expect("integer units");
    let part = money["nanos"].as_i64().expect("integer nanos");
    assert_eq!(
        i128::from(units) * 1_000_000_000 + i128::from(part),
        nanos,
        "{money}"
    );
    assert_eq!(money["display"], price_text(code, nanos), "{money}");
}

#[tokio::test]
async fn products_are_listed_paged_searched_and_priced() {
    let shop = Shop::start().await;
    let browser = shop.browser();
    let all = json_of(browser.get("/api/v1/products").await, StatusCode::OK).await;
    let products = all["products"].as_array().unwrap();
    assert_eq!(products.len(), 9);
    assert!(all["next_page_token"].is_null());
    assert_eq!(products[0]["id"], SUNGLASSES.0);
    assert_money(&products[0]["price"], "USD", SUNGLASSES.1);
    assert!(
        products[0]["picture"]
            .as_str()
            .unwrap()
            .starts_with("/static/img/products/")
    );

    // Pages of 4 follow their tokens to the same nine, in the same order.
    let mut seen = Vec::new();
    let mut path = "/api/v1/products?page_size=4".to_owned();
    loop {
        let page = json_of(browser.get(&path).await, StatusCode::OK).await;
        let ids = page["products"].as_array().unwrap();
        assert!(ids.len() <= 4);
        seen.extend(ids.iter().map(|p| p["id"].as_str().unwrap().to_owned()));
        match page["next_page_token"].as_str() {
            Some(token) => path = format!("/api/v1/products?page_size=4&page_token={token}"),
            None => break,
        }
    }
    let everything: Vec<String> = products
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(seen, everything);

    // Search is the catalog's: case-insensitive, names and descriptions.
    let found = json_of(
        browser.get("/api/v1/products?q=SUNGLASSES").await,
        StatusCode::OK,
    )
    .await;
    let ids: Vec<&str> = found["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [SUNGLASSES.0]);
    let none = json_of(
        browser.get("/api/v1/products?q=zzzznothing").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(none["products"], json!([]));

    // One product, in euros and in yen: converted, rounded to the minor unit.
    for code in ["EUR", "JPY"] {
        let product = json_of(
            browser
                .get(&format!(
                    "/api/v1/products/{}?currency={code}",
                    SUNGLASSES.0
                ))
                .await,
            StatusCode::OK,
        )
        .await;
        assert_money(
            &product["price"],
            code,
            rounded(code, usd_to(SUNGLASSES.1, code)),
        );
    }

    // TechCommerce's bare list.
    let bare = json_of(browser.get("/api/products").await, StatusCode::OK).await;
    assert_eq!(bare.as_array().unwrap().len(), 9);
    assert_eq!(bare[0]["id"], SUNGLASSES.0);
}

#[tokio::test]
async fn currencies_default_to_the_sessions_choice() {
    let shop = Shop::start().await;
    let browser = shop.browser();
    let listed = json_of(browser.get("/api/v1/currencies").await, StatusCode::OK).await;
    let codes = listed["currency_codes"].as_array().unwrap();
    assert!(codes.contains(&json!("EUR")) && codes.contains(&json!("CHF")));
    assert_eq!(listed["default"], "USD");
    // The currency chosen on the pages is the API's default too.
    browser.set_currency("GBP").await;
    let listed = json_of(browser.get("/api/v1/currencies").await, StatusCode::OK).await;
    assert_eq!(listed["default"], "GBP");
    let product = json_of(
        browser
            .get(&format!("/api/v1/products/{}", SUNGLASSES.0))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(product["price"]["currency_code"], "GBP");
    // Any code the currency service supports may be asked for.
    let product = json_of(
        browser
            .get(&format!("/api/v1/products/{}?currency=CHF", SUNGLASSES.0))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(product["price"]["currency_code"], "CHF");
    assert!(
        product["price"]["display"]
            .as_str()
            .unwrap()
            .starts_with("CHF ")
    );
}

#[tokio::test]
async fn the_cart_adds_lists_and_empties() {
    let shop = Shop::start().await;
    let browser = shop.browser();
    let empty = json_of(browser.get("/api/v1/cart").await, StatusCode::OK).await;
    assert_eq!(empty["items"], json!([]));
    assert_eq!(empty["item_count"], 0);
    assert_money(&empty["total"], "USD", 0);

    add_item(&browser, SUNGLASSES.0, 2).await;
    let cart = add_item(&browser, "6E92ZMYYFZ", 1).await;
    assert_eq!(cart["item_count"], 3);
    let line = &cart["items"][0];
    assert_eq!(line["product_id"], SUNGLASSES.0);
    assert_eq!(line["quantity"], 2);
    assert_money(&line["unit_price"], "USD", SUNGLASSES.1);
    assert_money(&line["line_total"], "USD", 2 * SUNGLASSES.1);
    let lines: i128 = cart["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| {
            i128::from(line["line_total"]["units"].as_i64().unwrap()) * 1_000_000_000
                + i128::from(line["line_total"]["nanos"].as_i64().unwrap())
        })
        .sum();
    assert_money(&cart["shipping"], "USD", 8_990_000_000);
    assert_money(&cart["total"], "USD", lines + 8_990_000_000);

    // The same cart, in euros, and the same cart the pages show.
    let euros = json_of(
        browser.get("/api/v1/cart?currency=EUR").await,
        StatusCode::OK,
    )
    .await;
    assert_money(
        &euros["items"][0]["unit_price"],
        "EUR",
        rounded("EUR", usd_to(SUNGLASSES.1, "EUR")),
    );
    assert!(browser.page("/cart").await.contains("Sunglasses"));

    let response = browser
        .client
        .delete(format!("{}/api/v1/cart", browser.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let cart = json_of(browser.get("/api/v1/cart").await, StatusCode::OK).await;
    assert_eq!(cart["items"], json!([]));
}

#[tokio::test]
async fn a_client_without_a_cookie_gets_a_session_and_health_mints_none() {
    let shop = Shop::start().await;
    let browser = shop.browser();
    let first = browser.get("/api/v1/cart").await;
    let cookie = cookie_value(&set_cookies(&first), "shop_session-id");
    assert!(cookie.is_some_and(|value| value.contains('.')));
    // Kept: the cart added to is the cart read.
    add_item(&browser, SUNGLASSES.0, 1).await;
    let cart = json_of(browser.get("/api/v1/cart").await, StatusCode::OK).await;
    assert_eq!(cart["item_count"], 1);
    // Another client, another cart.
    let other = json_of(shop.browser().get("/api/v1/cart").await, StatusCode::OK).await;
    assert_eq!(other["item_count"], 0);

    let health = shop.browser().get("/health").await;
    assert_eq!(health.status(), StatusCode::OK);
    assert!(set_cookies(&health).is_empty());
    assert_eq!(
        health.text().await.unwrap(),
        r#"{"status":"healthy","service":"frontend"}"#
    );
    let spec = shop.browser().get("/api/v1/openapi.json").await;
    assert!(set_cookies(&spec).is_empty());
}

#[tokio::test]
async fn bad_reads_are_4xx_problems() {
    let shop = Shop::start().await;
    let browser = shop.browser();
    let cases = [
        ("/api/v1/products?page_size=0", 400, "INVALID_PARAMETER"),
        ("/api/v1/products?page_size=101", 400, "INVALID_PARAMETER"),
        ("/api/v1/products?page_size=abc", 400, "INVALID_PARAMETER"),
        (
            "/api/v1/products?page_token=garbage",
            400,
            "INVALID_PARAMETER",
        ),
        ("/api/v1/products?currency=XXX", 422, "UNSUPPORTED_CURRENCY"),
        ("/api/v1/products?currency=usd", 422, "UNSUPPORTED_CURRENCY"),
        (
            "/api/v1/cart?currency=%E2%82%AC",
            422,
            "UNSUPPORTED_CURRENCY",
        ),
        ("/api/v1/products/ZZZZZZZZZZ", 404, "NOT_FOUND"),
        ("/api/v1/products/..%2F..", 404, "NOT_FOUND"),
        ("/api/v1/orders/nope", 404, "NOT_FOUND"),
        ("/api/v1/nothing", 404, "NOT_FOUND"),
        ("/health?currency=XXX", 200, ""),
    ];
    for (path, status, code) in cases {
        let status = StatusCode::from_u16(status).unwrap();
        let response = browser.get(path).await;
        if status == StatusCode::OK {
            assert_eq!(response.status(), status, "{path}");
            continue;
        }
        let problem = problem_of(response, status, code).await;
        if code == "INVALID_PARAMETER" {
            assert!(
                problem["errors"][0]["field"].is_string(),
                "{path}: {problem}"
            );
        }
    }
    // A long search is refused before it reaches the catalog.
    let long = "a".repeat(101);
    problem_of(
        browser.get(&format!("/api/v1/products?q={long}")).await,
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER",
    )
    .await;
    // A method the path does not have: 405 with Allow, as a problem.
    let response = browser
        .client
        .post(format!("{}/api/v1/products", browser.url))
        .send()
        .await
        .unwrap();
    assert!(response.headers().contains_key(header::ALLOW));
    problem_of(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
    )
    .await;
}

#[tokio::test]
async fn bad_cart_writes_are_4xx_problems() {
    let shop = Shop::start().await;
    let browser = shop.browser();
    let post = |content_type: Option<&'static str>, body: &'static str| {
        let mut request = browser
            .client
            .post(format!("{}/api/v1/cart/items", browser.url));
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        request.body(body).send()
    };
    let json = Some("application/json");
    let cases: [(Option<&'static str>, &'static str, u16, &str); 15] = [
        (json, "{", 400, "MALFORMED_JSON"),
        (json, "", 400, "MALFORMED_JSON"),
        (
            json,
            r#"{"product_id":"OLJCESPC7Z","quantity":1} x"#,
            400,
            "MALFORMED_JSON",
        ),
        (
            None,
            r#"{"product_id":"OLJCESPC7Z","quantity":1}"#,
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            Some("text/plain"),
            r#"{"product_id":"OLJCESPC7Z","quantity":1}"#,
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            Some("application/x-www-form-urlencoded"),
            "product_id=OLJCESPC7Z&quantity=1",
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            json,
            r#"{"product_id":"OLJCESPC7Z","quantity":0}"#,
            422,
            "VALIDATION_FAILED",
        ),
        (
            json,
            r#"{"product_id":"OLJCESPC7Z","quantity":11}"#,
            422,
            "VALIDATION_FAILED",
        ),
        (
            json,
            r#"{"product_id":"OLJCESPC7Z","quantity":-3}"#,
            422,
            "VALIDATION_FAILED",
        ),
        (
            json,
            r#"{"product_id":"OLJCESPC7Z","quantity":100000000000000000000}"#,
            422,
            "VALIDATION_FAILED",
        ),
        (
            json,
            r#"{"product_id":"OLJCESPC7Z","quantity":"2"}"#,
            422,
            "VALIDATION_FAILED",
        ),
        (
            json,
            r#"{"product_id":"OLJCESPC7Z","quantity":1.5}"#,
            422,
            "VALIDATION_FAILED",
        ),
        (json, r#"{"quantity":1}"#, 422, "VALIDATION_FAILED"),
        (json, r#"[1,2]"#, 422, "VALIDATION_FAILED"),
        (
            json,
            r#"{"product_id":"ZZZZZZZZZZ","quantity":1}"#,
            422,
            "UNKNOWN_PRODUCT",
        ),
    ];
    for (content_type, body, status, code) in cases {
        let response = post(content_type, body).await.unwrap();
        let problem = problem_of(response, StatusCode::from_u16(status).unwrap(), code).await;
        if code == "VALIDATION_FAILED" && body.starts_with('{') {
            let field = problem["errors"][0]["field"].as_str().unwrap();
            assert!(
                field == "/quantity" || field == "/product_id",
                "{body}: {problem}"
            );
        }
    }
    // A browser posting from another site is refused, whatever the body.
    let response = browser
        .client
        .post(format!("{}/api/v1/cart/items", browser.url))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ORIGIN, "https://evil.example")
        .body(r#"{"product_id":"OLJCESPC7Z","quantity":1}"#)
        .send()
        .await
        .unwrap();
    problem_of(response, StatusCode::FORBIDDEN, "CROSS_SITE_REQUEST").await;
    let response = browser
        .client
        .delete(format!("{}/api/v1/cart", browser.url))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    problem_of(response, StatusCode::FORBIDDEN, "CROSS_SITE_REQUEST").await;
}

/// No drift between the router and the document, both ways, and the
/// reference page shows every operation.
#[tokio::test]
async fn the_openapi_document_matches_the_router_and_the_page_shows_it() {
    let shop = Shop::start_with(&[("BASE_URL", "/shop")]).await;
    let browser = shop.browser();
    let document = json_of(browser.get("/api/v1/openapi.json").await, StatusCode::OK).await;
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(document["servers"][0]["url"], "/shop");
    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.to_ascii_uppercase(), path.clone()));
        }
    }
    let routed: BTreeSet<(String, String)> =
        boutique_frontend::api_operations().into_iter().collect();
    assert_eq!(routed, documented);
    // And each documented operation is really served (not the 404 fallback).
    for (method, path) in &routed {
        let path = path.replace("{id}", "x");
        let response = browser
            .client
            .request(method.parse().unwrap(), format!("{}{path}", browser.url))
            .header(header::CONTENT_TYPE, "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        let body = response.text().await.unwrap();
        assert!(
            !body.contains("\"code\":\"METHOD_NOT_ALLOWED\""),
            "{method} {path}: {body}"
        );
        if !path.contains("/x") {
            assert!(
                !body.contains("\"code\":\"NOT_FOUND\""),
                "{method} {path}: {body}"
            );
        }
    }

    let page = browser.get("/api/v1/docs").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap();
            assert!(html.contains(&format!("id=\"op-{id}\"")), "{id}");
            assert!(
                html.contains(&format!("{} /shop{path}", method.to_ascii_uppercase())),
                "{method} {path}"
            );
        }
    }
    assert!(html.contains("id=\"problem-order-in-progress\""));
    assert!(!html.contains("<script"));
}
