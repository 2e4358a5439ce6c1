//! `POST /api/v1/checkout` over the real shop: 201 with Location, replays of
//! an `Idempotency-Key`, key reuse, concurrent checkouts of one cart, bad
//! bodies, declines and an outage.

use futures::future::join_all;
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::{
    api::{add_item, json_of, problem_of},
    helpers::{Browser, Shop, Svc, this_year},
};

/// A checkout body upstream's demo values would make, with a year to come.
fn order(card: &str) -> Value {
    json!({
        "email": "someone@example.com",
        "address": {
            "street_address": "1600 Amphitheatre Parkway",
            "city": "Mountain View",
            "state": "CA",
            "country": "United States",
            "zip_code": 94043
        },
        "credit_card": {
            "number": card,
            "cvv": 672,
            "expiration_month": 1,
            "expiration_year": this_year() + 2
        }
    })
}

const CARD: &str = "4432 8015 6152 0454";

async fn checkout(browser: &Browser, key: Option<&str>, body: &Value) -> reqwest::Response {
    let mut request = browser
        .client
        .request(Method::POST, format!("{}/api/v1/checkout", browser.url))
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.to_string());
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    request.send().await.unwrap()
}

/// The number of orders the browser's session has.
async fn order_count(browser: &Browser) -> usize {
    let listed = json_of(browser.get("/api/v1/orders").await, StatusCode::OK).await;
    listed["orders"].as_array().unwrap().len()
}

#[tokio::test]
async fn checkout_places_once_and_replays_by_key() {
    let shop = Shop::start().await;
    let browser = shop.browser();
    add_item(&browser, "OLJCESPC7Z", 2).await;
    let response = checkout(&browser, Some("key-0001"), &order(CARD)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    let placed = json_of(response, StatusCode::CREATED).await;
    let order_id = placed["order_id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/api/v1/orders/{order_id}"));
    assert_eq!(placed["items"][0]["quantity"], 2);
    assert_eq!(placed["total"]["currency_code"], "USD");
    assert_eq!(placed["total"]["units"], 48);
    assert_eq!(placed["total"]["display"], "$48.97");
    assert!(!placed["tracking_id"].as_str().unwrap().is_empty());

    // The Location is the order's record.
    let record = json_of(browser.get(&location).await, StatusCode::OK).await;
    assert_eq!(record["id"], order_id.as_str());
    assert_eq!(record["total"]["display"], "$48.97");
    // The cart is empty now.
    let cart = json_of(browser.get("/api/v1/cart").await, StatusCode::OK).await;
    assert_eq!(cart["item_count"], 0);

    // A replay: the same order, nothing charged again.
    let replay = checkout(&browser, Some("key-0001"), &order(CARD)).await;
    assert_eq!(replay.status(), StatusCode::CREATED);
    assert_eq!(replay.headers()[header::LOCATION], location.as_str());
    let replayed = json_of(replay, StatusCode::CREATED).await;
    assert_eq!(replayed["order_id"], order_id.as_str());
    assert_eq!(order_count(&browser).await, 1);

    // The same key for another request is refused.
    let mut other = order(CARD);
    other["email"] = json!("someone.else@example.com");
    problem_of(
        checkout(&browser, Some("key-0001"), &other).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "IDEMPOTENCY_KEY_REUSED",
    )
    .await;
    assert_eq!(order_count(&browser).await, 1);
    // In euros, through ?currency=.
    add_item(&browser, "OLJCESPC7Z", 1).await;
    let euros = browser
        .client
        .post(format!("{}/api/v1/checkout?currency=EUR", browser.url))
        .header(header::CONTENT_TYPE, "application/json")
        .body(order(CARD).to_string())
        .send()
        .await
        .unwrap();
    let placed = json_of(euros, StatusCode::CREATED).await;
    assert_eq!(placed["total"]["currency_code"], "EUR");
    assert_eq!(order_count(&browser).await, 2);
}

#[tokio::test]
async fn concurrent_checkouts_of_one_cart_make_one_order() {
    let shop = Shop::start().await;
    let browser = shop.browser();
    add_item(&browser, "OLJCESPC7Z", 1).await;
    let body = order(CARD);
    let keys: Vec<String> = (0..6).map(|i| format!("concurrent-{i}")).collect();
    let responses = join_all(keys.iter().map(|key| checkout(&browser, Some(key), &body))).await;
    let mut placed = Vec::new();
    for response in responses {
        match response.status() {
            StatusCode::CREATED => {
                let order = json_of(response, StatusCode::CREATED).await;
                placed.push(order["order_id"].as_str().unwrap().to_owned());
            }
            StatusCode::CONFLICT => {
                problem_of(response, StatusCode::CONFLICT, "ORDER_IN_PROGRESS").await;
            }
            // One that came after the order was placed finds the cart empty.
            _ => {
                problem_of(response, StatusCode::UNPROCESSABLE_ENTITY, "ORDER_REFUSED").await;
            }
        }
    }
    assert_eq!(placed.len(), 1, "{placed:?}");
    assert_eq!(order_count(&browser).await, 1);
}

#[tokio::test]
async fn bad_checkouts_are_4xx_problems() {
    let shop = Shop::start().await;
    let browser = shop.browser();
    // Nothing in the cart: refused, nothing charged.
    problem_of(
        checkout(&browser, None, &order(CARD)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "ORDER_REFUSED",
    )
    .await;
    add_item(&browser, "OLJCESPC7Z", 1).await;
    // The form's rules, each field named by its JSON pointer.
    let mut bad = order("4432 8015 6152 0455");
    bad["email"] = json!("not an email");
    bad["credit_card"]["expiration_month"] = json!(13);
    let problem = problem_of(
        checkout(&browser, None, &bad).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_FAILED",
    )
    .await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "/email",
            "/credit_card/number",
            "/credit_card/expiration_month"
        ]
    );
    // A card number sent with the wrong type is never echoed back.
    let mut typed = order(CARD);
    typed["credit_card"]["number"] = json!(4_432_801_561_520_454_u64);
    let problem = problem_of(
        checkout(&browser, None, &typed).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_FAILED",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "/credit_card/number");
    assert!(!problem.to_string().contains("4432801561520454"));
    let mut missing = order(CARD);
    missing["address"].as_object_mut().unwrap().remove("city");
    let problem = problem_of(
        checkout(&browser, None, &missing).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_FAILED",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "/address/city");
    // An expired card is declined by payment: refused with its reason.
    let mut expired = order(CARD);
    expired["credit_card"]["expiration_year"] = json!(this_year() - 1);
    let problem = problem_of(
        checkout(&browser, None, &expired).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "ORDER_REFUSED",
    )
    .await;
    assert!(
        problem["detail"].as_str().unwrap().contains("expired"),
        "{problem}"
    );
    // Malformed keys, bodies and currencies.
    problem_of(
        checkout(&browser, Some("two words"), &order(CARD)).await,
        StatusCode::BAD_REQUEST,
        "BAD_IDEMPOTENCY_KEY",
    )
    .await;
    let long = "k".repeat(256);
    problem_of(
        checkout(&browser, Some(&long), &order(CARD)).await,
        StatusCode::BAD_REQUEST,
        "BAD_IDEMPOTENCY_KEY",
    )
    .await;
    let form = browser
        .client
        .post(format!("{}/api/v1/checkout", browser.url))
        .form(&[("email", "someone@example.com")])
        .send()
        .await
        .unwrap();
    problem_of(
        form,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UNSUPPORTED_MEDIA_TYPE",
    )
    .await;
    let unsupported = browser
        .client
        .post(format!("{}/api/v1/checkout?currency=XXX", browser.url))
        .header(header::CONTENT_TYPE, "application/json")
        .body(order(CARD).to_string())
        .send()
        .await
        .unwrap();
    problem_of(
        unsupported,
        StatusCode::UNPROCESSABLE_ENTITY,
        "UNSUPPORTED_CURRENCY",
    )
    .await;
    let huge = format!("{{\"email\": \"{}\"}}", "a".repeat(20_000));
    let response = browser
        .client
        .post(format!("{}/api/v1/checkout", browser.url))
        .header(header::CONTENT_TYPE, "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    problem_of(response, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE").await;
    // Only the declined card left an order on record, declined; the cart is
    // still there.
    let listed = json_of(browser.get("/api/v1/orders").await, StatusCode::OK).await;
    let states: Vec<&str> = listed["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|order| order["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["declined"]);
    let cart = json_of(browser.get("/api/v1/cart").await, StatusCode::OK).await;
    assert_eq!(cart["item_count"], 1);
}

#[tokio::test]
async fn a_checkout_outage_is_a_503_with_retry_after() {
    let mut shop = Shop::start().await;
    let browser = shop.browser();
    add_item(&browser, "OLJCESPC7Z", 1).await;
    shop.stop(Svc::Checkout).await;
    let response = checkout(&browser, Some("outage-1"), &order(CARD)).await;
    assert_eq!(response.headers()[header::RETRY_AFTER], "2");
    let problem = problem_of(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "SERVICE_UNAVAILABLE",
    )
    .await;
    assert!(!problem.to_string().contains("tcp"), "{problem}");
}
