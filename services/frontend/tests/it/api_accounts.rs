//! The REST API's accounts, sessions and ratings over real HTTP, in front
//! of the real accounts, ratings, orders and checkout services: sign-up and
//! sign-in, bearer tokens (good, malformed, tampered, expired, signed out,
//! of a deleted account), the account's orders and cart, and ratings.

use reqwest::{Method, Response, StatusCode, header};
use serde_json::{Value, json};

use crate::{
    accounts::{PASSWORD, email},
    api::{json_of, problem_of, send_json},
    helpers::{Browser, Shop, craft_token, now_s},
};

const PRODUCT: &str = "OLJCESPC7Z";

/// A client without cookies (an API client), rooted at the shop.
fn client(shop: &Shop) -> Browser {
    Browser {
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        url: shop.url.clone(),
    }
}

async fn with_token(
    browser: &Browser,
    method: Method,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> Response {
    let mut request = browser
        .client
        .request(method, format!("{}{path}", browser.url))
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    if let Some(body) = body {
        request = request
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
    }
    request.send().await.unwrap()
}

/// Signs up through the API; the session document.
async fn sign_up(browser: &Browser, email: &str) -> Value {
    let response = send_json(
        browser,
        Method::POST,
        "/api/v1/accounts",
        &json!({"email": email, "password": PASSWORD, "display_name": "Ada"}),
    )
    .await;
    assert_eq!(response.headers()[header::LOCATION], "/api/v1/accounts/me");
    json_of(response, StatusCode::CREATED).await
}

fn challenge(response: &Response) -> String {
    response.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn accounts_sign_up_and_in_for_a_token() {
    let shop = Shop::start().await;
    let api = client(&shop);
    let email = email();
    let session = sign_up(&api, &email).await;
    let token = session["token"].as_str().unwrap().to_owned();
    assert_eq!(session["account"]["email"], email.as_str());
    assert_eq!(session["account"]["display_name"], "Ada");
    let id = session["account"]["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("acct-"), "{id}");
    assert!(session["expires_at"].as_str().unwrap().ends_with('Z'));

    let me = json_of(
        with_token(&api, Method::GET, "/api/v1/accounts/me", &token, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["id"], id.as_str());

    // Sign in: another token for the same account.
    let signed_in = json_of(
        send_json(
            &api,
            Method::POST,
            "/api/v1/sessions",
            &json!({"email": email.to_uppercase(), "password": PASSWORD}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(signed_in["account"]["id"], id.as_str());
    assert_ne!(signed_in["token"], token.as_str());

    // Refusals: the same email again, a weak password, a bad email, a missing field.
    let again = send_json(
        &api,
        Method::POST,
        "/api/v1/accounts",
        &json!({"email": email, "password": PASSWORD}),
    )
    .await;
    problem_of(again, StatusCode::CONFLICT, "EMAIL_TAKEN").await;
    let weak = send_json(
        &api,
        Method::POST,
        "/api/v1/accounts",
        &json!({"email": "weak@example.com", "password": "password123"}), // pragma: allowlist secret
    )
    .await;
    let problem = problem_of(weak, StatusCode::UNPROCESSABLE_ENTITY, "WEAK_PASSWORD").await;
    assert_eq!(problem["errors"][0]["field"], "/password");
    let bad = send_json(
        &api,
        Method::POST,
        "/api/v1/accounts",
        &json!({"email": "not-an-email", "password": PASSWORD}),
    )
    .await;
    let problem = problem_of(bad, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    assert_eq!(problem["errors"][0]["field"], "/email");
    let missing = send_json(
        &api,
        Method::POST,
        "/api/v1/sessions",
        &json!({"email": email}),
    )
    .await;
    problem_of(
        missing,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_FAILED",
    )
    .await;
    shop.stop_frontend().await;
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_401() {
    let shop = Shop::start().await;
    let api = client(&shop);
    let email = email();
    sign_up(&api, &email).await;
    let mut answers = Vec::new();
    for who in [email.as_str(), "nobody@example.com"] {
        let response = send_json(
            &api,
            Method::POST,
            "/api/v1/sessions",
            &json!({"email": who, "password": "not my password"}), // pragma: allowlist secret
        )
        .await;
        assert_eq!(challenge(&response), "Bearer realm=\"boutique\"");
        let mut problem =
            problem_of(response, StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS").await;
        problem.as_object_mut().unwrap().remove("instance");
        answers.push(problem);
    }
    assert_eq!(answers[0], answers[1]);
    // Throttled after five failures for the email: 429 with Retry-After.
    let mut throttled = None;
    for _ in 0..6 {
        let response = send_json(
            &api,
            Method::POST,
            "/api/v1/sessions",
            &json!({"email": email, "password": "not my password"}), // pragma: allowlist secret
        )
        .await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            throttled = Some(response);
            break;
        }
    }
    let throttled = throttled.expect("throttled");
    assert!(throttled.headers().contains_key(header::RETRY_AFTER));
    problem_of(
        throttled,
        StatusCode::TOO_MANY_REQUESTS,
        "SIGN_IN_THROTTLED",
    )
    .await;
    shop.stop_frontend().await;
}

#[tokio::test]
async fn bad_tokens_are_401_with_a_bearer_challenge() {
    let shop = Shop::start().await;
    let api = client(&shop);
    let session = sign_up(&api, &email()).await;
    let token = session["token"].as_str().unwrap().to_owned();
    let id = session["account"]["id"].as_str().unwrap().to_owned();

    // No token: a protected operation asks for one.
    let response = api.get("/api/v1/accounts/me").await;
    assert_eq!(challenge(&response), "Bearer realm=\"boutique\"");
    problem_of(response, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;

    let mut tampered = token.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let expired = craft_token(&id, now_s() - 7200, now_s() - 3600);
    let unknown_key = {
        let good = craft_token(&id, now_s(), now_s() + 3600);
        good.replacen('e', "f", 1)
    };
    for bad in [
        "not-a-jwt".to_owned(),
        tampered,
        expired,
        unknown_key,
        "x".repeat(5000),
    ] {
        // Even on an operation a guest may call: a token sent is a token checked.
        for path in ["/api/v1/accounts/me", "/api/v1/cart"] {
            let response = with_token(&api, Method::GET, path, &bad, None).await;
            assert_eq!(
                challenge(&response),
                "Bearer realm=\"boutique\", error=\"invalid_token\"",
                "{path}"
            );
            problem_of(response, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
        }
    }
    // A crafted token with the right key and times works: the key is the service's.
    let crafted = craft_token(&id, now_s(), now_s() + 3600);
    let response = with_token(&api, Method::GET, "/api/v1/accounts/me", &crafted, None).await;
    assert_eq!(response.status(), StatusCode::OK);

    // Signed out: 204, then the token is refused everywhere.
    let response = with_token(
        &api,
        Method::DELETE,
        "/api/v1/sessions/current",
        &token,
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = with_token(&api, Method::GET, "/api/v1/accounts/me", &token, None).await;
    problem_of(response, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    let response = with_token(
        &api,
        Method::DELETE,
        "/api/v1/sessions/current",
        &token,
        None,
    )
    .await;
    problem_of(response, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    // Another scheme is not ours: the caller is a guest.
    let response = api
        .client
        .get(format!("{}/api/v1/accounts/me", api.url))
        .header(header::AUTHORIZATION, "Basic YTpi")
        .send()
        .await
        .unwrap();
    problem_of(response, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    shop.stop_frontend().await;
}

#[tokio::test]
async fn a_bearer_caller_shops_and_lists_its_own_orders() {
    let shop = Shop::start().await;
    let api = client(&shop);
    let token = sign_up(&api, &email()).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let added = with_token(
        &api,
        Method::POST,
        "/api/v1/cart/items",
        &token,
        Some(&json!({"product_id": PRODUCT, "quantity": 2})),
    )
    .await;
    assert_eq!(json_of(added, StatusCode::OK).await["item_count"], 2);
    let checkout = json!({
        "email": "someone@example.com",
        "address": {"street_address": "1600 Amphitheatre Parkway", "city": "Mountain View",
                    "state": "CA", "country": "United States", "zip_code": 94043},
        "credit_card": {"number": "4432801561520454", "cvv": 672, "expiration_month": 1,
                        "expiration_year": 2099},
    });
    let placed = json_of(
        with_token(
            &api,
            Method::POST,
            "/api/v1/checkout",
            &token,
            Some(&checkout),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let order_id = placed["order_id"].as_str().unwrap().to_owned();

    let listed = json_of(
        with_token(&api, Method::GET, "/api/v1/orders", &token, None).await,
        StatusCode::OK,
    )
    .await;
    let ids: Vec<&str> = listed["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|order| order["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [order_id.as_str()]);
    let one = with_token(
        &api,
        Method::GET,
        &format!("/api/v1/orders/{order_id}"),
        &token,
        None,
    )
    .await;
    assert_eq!(one.status(), StatusCode::OK);
    // A guest (or another account) sees none of it.
    let guest = json_of(api.get("/api/v1/orders").await, StatusCode::OK).await;
    assert_eq!(guest["orders"], json!([]));
    let other = sign_up(&api, &email()).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = with_token(
        &api,
        Method::GET,
        &format!("/api/v1/orders/{order_id}"),
        &other,
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    shop.stop_frontend().await;
}

#[tokio::test]
async fn signing_in_with_a_guest_cookie_brings_the_guests_cart_and_orders() {
    let shop = Shop::start().await;
    let browser = shop.browser();
    let email = email();
    sign_up(&client(&shop), &email).await;
    browser.add_to_cart(PRODUCT, 1).await;
    let response = send_json(
        &browser,
        Method::POST,
        "/api/v1/sessions",
        &json!({"email": email, "password": PASSWORD}),
    )
    .await;
    let token = json_of(response, StatusCode::OK).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let cart = json_of(
        with_token(&client(&shop), Method::GET, "/api/v1/cart", &token, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(cart["item_count"], 1);
    shop.stop_frontend().await;
}

#[tokio::test]
async fn ratings_through_the_api() {
    let shop = Shop::start().await;
    let api = client(&shop);
    let token = sign_up(&api, &email()).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let product = json_of(
        api.get(&format!("/api/v1/products/{PRODUCT}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        product["rating"],
        json!({"count": 0, "stars_sum": 0, "average": null})
    );

    let path = format!("/api/v1/products/{PRODUCT}/ratings/mine");
    let body = json!({"stars": 4, "text": "<b>Good</b>"});
    let response = api
        .client
        .put(format!("{}{path}", api.url))
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    problem_of(response, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    let rated = json_of(
        with_token(&api, Method::PUT, &path, &token, Some(&body)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (rated["stars"].as_i64(), rated["text"].as_str()),
        (Some(4), Some("<b>Good</b>"))
    );
    assert_eq!(rated["mine"], true);
    assert_eq!(rated["verified_purchase"], false);

    let product = json_of(
        api.get(&format!("/api/v1/products/{PRODUCT}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        product["rating"],
        json!({"count": 1, "stars_sum": 4, "average": 4.0})
    );
    let listed = json_of(
        with_token(
            &api,
            Method::GET,
            &format!("/api/v1/products/{PRODUCT}/ratings"),
            &token,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["ratings"][0]["mine"], true);
    assert_eq!(listed["next_page_token"], Value::Null);
    let as_guest = json_of(
        api.get(&format!("/api/v1/products/{PRODUCT}/ratings"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(as_guest["ratings"][0]["mine"], false);
    assert!(
        as_guest["ratings"][0].get("account_id").is_none(),
        "no account ids"
    );

    for (bad, field) in [
        (json!({"stars": 0}), "/stars"),
        (json!({"stars": 9}), "/stars"),
        (json!({"stars": 3, "text": "x".repeat(2001)}), "/text"),
    ] {
        let response = with_token(&api, Method::PUT, &path, &token, Some(&bad)).await;
        let problem = problem_of(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_FAILED",
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], field);
    }
    let control = with_token(
        &api,
        Method::PUT,
        &path,
        &token,
        Some(&json!({"stars": 3, "text": "a\u{7}b"})),
    )
    .await;
    problem_of(
        control,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_FAILED",
    )
    .await;
    let unknown = with_token(
        &api,
        Method::PUT,
        "/api/v1/products/NOSUCHPROD/ratings/mine",
        &token,
        Some(&body),
    )
    .await;
    problem_of(unknown, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let response = api.get("/api/v1/products/NOSUCHPROD/ratings").await;
    problem_of(response, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let response = api
        .get(&format!("/api/v1/products/{PRODUCT}/ratings?page_size=0"))
        .await;
    problem_of(response, StatusCode::BAD_REQUEST, "INVALID_PARAMETER").await;
    let response = api
        .get(&format!(
            "/api/v1/products/{PRODUCT}/ratings?page_token=nope"
        ))
        .await;
    problem_of(response, StatusCode::BAD_REQUEST, "INVALID_PARAMETER").await;

    let response = with_token(&api, Method::DELETE, &path, &token, None).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = with_token(&api, Method::DELETE, &path, &token, None).await;
    assert_eq!(
        response.status(),
        StatusCode::NO_CONTENT,
        "nothing to delete is fine"
    );
    let product = json_of(
        api.get(&format!("/api/v1/products/{PRODUCT}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(product["rating"]["count"], 0);

    // Past the write limit: 429 with Retry-After.
    let mut limited = None;
    for _ in 0..12 {
        let response = with_token(&api, Method::PUT, &path, &token, Some(&body)).await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(response);
            break;
        }
    }
    let limited = limited.expect("the write limit");
    assert!(limited.headers().contains_key(header::RETRY_AFTER));
    problem_of(
        limited,
        StatusCode::TOO_MANY_REQUESTS,
        "RATING_RATE_LIMITED",
    )
    .await;
    shop.stop_frontend().await;
}

#[tokio::test]
async fn products_are_served_without_ratings_when_the_ratings_service_is_down() {
    let mut shop = Shop::start().await;
    let api = client(&shop);
    shop.stop(crate::helpers::Svc::Ratings).await;
    let product = json_of(
        api.get(&format!("/api/v1/products/{PRODUCT}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(product["rating"], Value::Null);
    let listed = json_of(api.get("/api/v1/products").await, StatusCode::OK).await;
    assert!(
        listed["products"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["rating"].is_null())
    );
    shop.stop_frontend().await;
}
