//! Session and currency cookies: attributes, minting, replacement, probes,
//! shared-session mode, `BASE_URL` scoping and logout.

use reqwest::{Client, StatusCode, redirect::Policy};

use crate::helpers::{Shop, cookie_value, set_cookies, testid};

fn client() -> Client {
    Client::builder().redirect(Policy::none()).build().unwrap()
}

fn is_uuid_v4(text: &str) -> bool {
    text.len() == 36
        && text.as_bytes()[14] == b'4'
        && text.chars().filter(|c| *c == '-').count() == 4
}

#[tokio::test]
async fn first_visit_mints_a_session_with_safe_attributes() {
    let shop = Shop::start().await;
    let response = client()
        .get(format!("{}/product/OLJCESPC7Z", shop.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cookies = set_cookies(&response);
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let cookie = &cookies[0];
    let id = cookie_value(&cookies, "shop_session-id").unwrap();
    assert!(is_uuid_v4(&id), "{id}");
    for attribute in ["Max-Age=172800", "HttpOnly", "SameSite=Lax", "Path=/;"] {
        assert!(
            cookie.contains(attribute) || cookie.ends_with(attribute.trim_end_matches(';')),
            "{attribute} missing in {cookie}"
        );
    }
    assert!(!cookie.contains("Secure"));
    // The footer shows the session and a request id.
    let html = response.text().await.unwrap();
    assert!(html.contains(&format!("session-id: <code>{id}</code>")));
    assert!(html.contains("request-id: <code>"));
}

#[tokio::test]
async fn a_session_is_kept_and_a_bad_one_replaced() {
    let shop = Shop::start().await;
    let browser = shop.browser();
    let first = browser.get("/").await;
    let id = cookie_value(&set_cookies(&first), "shop_session-id").unwrap();
    let again = browser.get("/cart").await;
    assert!(
        set_cookies(&again).is_empty(),
        "a kept session is not re-sent"
    );
    assert!(again.text().await.unwrap().contains(&id));

    for bad in ["hacker", "../../x", "00000000-0000-0000-0000-00000000000g"] {
        let response = client()
            .get(format!("{}/", shop.url))
            .header("cookie", format!("shop_session-id={bad}"))
            .send()
            .await
            .unwrap();
        let minted = cookie_value(&set_cookies(&response), "shop_session-id").unwrap();
        assert!(is_uuid_v4(&minted) && minted != bad, "{bad}");
        let html = response.text().await.unwrap();
        assert!(!html.contains(bad), "{bad} reached the page");
    }
}

#[tokio::test]
async fn carts_belong_to_sessions() {
    let shop = Shop::start().await;
    let alice = shop.browser();
    let bob = shop.browser();
    alice.add_to_cart("6E92ZMYYFZ", 4).await;
    assert_eq!(testid(&alice.page("/").await, "cart-size"), Some("4"));
    assert_eq!(testid(&bob.page("/").await, "cart-size"), Some("0"));
}

#[tokio::test]
async fn shared_session_mode_uses_the_upstream_constant() {
    let shop = Shop::start_with(&[("ENABLE_SINGLE_SHARED_SESSION", "true")]).await;
    let alice = shop.browser();
    let bob = shop.browser();
    let minted = cookie_value(&set_cookies(&alice.get("/").await), "shop_session-id");
    assert_eq!(
        minted.as_deref(),
        Some(boutique_frontend::SHARED_SESSION_ID)
    );
    alice.add_to_cart("6E92ZMYYFZ", 2).await;
    assert_eq!(testid(&bob.page("/").await, "cart-size"), Some("2"));
}

#[tokio::test]
async fn probes_mint_nothing() {
    let shop = Shop::start().await;
    for probe in ["x-readiness-probe", "x-liveness-probe"] {
        for path in ["/_healthz", "/"] {
            let response = client()
                .get(format!("{}{path}", shop.url))
                .header("cookie", format!("shop_session-id={probe}"))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert!(set_cookies(&response).is_empty(), "{probe} on {path}");
        }
    }
    let health = client()
        .get(format!("{}/_healthz", shop.url))
        .send()
        .await
        .unwrap();
    assert!(set_cookies(&health).is_empty());
    assert_eq!(health.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn base_url_prefixes_routes_links_and_cookies() {
    let shop = Shop::start_with(&[("BASE_URL", "/online-boutique")]).await;
    assert_eq!(shop.base, "/online-boutique");
    let browser = shop.browser();
    let response = browser.get("/").await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookies = set_cookies(&response);
    assert!(cookies[0].contains("Path=/online-boutique/"), "{cookies:?}");
    let html = response.text().await.unwrap();
    assert!(html.contains("href=\"/online-boutique/product/OLJCESPC7Z\""));
    assert!(html.contains("src=\"/online-boutique/static/img/products/sunglasses.jpg\""));
    assert!(html.contains("action=\"/online-boutique/setCurrency\""));
    assert!(html.contains("href=\"/online-boutique/static/styles.css\""));

    let added = browser
        .post("/cart", &[("product_id", "OLJCESPC7Z"), ("quantity", "1")])
        .await;
    assert_eq!(added.headers()["location"], "/online-boutique/cart");
    let set = browser
        .post("/setCurrency", &[("currency_code", "EUR")])
        .await;
    assert_eq!(set.headers()["location"], "/online-boutique/");
    let currency_cookie = set_cookies(&set);
    assert!(currency_cookie[0].starts_with("shop_currency=EUR;"));
    assert!(currency_cookie[0].contains("Path=/online-boutique/"));
    assert_eq!(browser.get("/_healthz").await.text().await.unwrap(), "ok");
    assert_eq!(
        browser.get("/static/styles.css").await.status(),
        StatusCode::OK
    );

    // Outside the prefix there is no shop.
    let outside = client()
        .get(format!("{}/product/OLJCESPC7Z", shop.origin()))
        .send()
        .await
        .unwrap();
    assert_eq!(outside.status(), StatusCode::NOT_FOUND);
    let bare = client()
        .get(format!("{}/online-boutique", shop.origin()))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), StatusCode::FOUND);
    assert_eq!(bare.headers()["location"], "/online-boutique/");
}

#[tokio::test]
async fn secure_cookies_when_configured() {
    let shop = Shop::start_with(&[("COOKIE_SECURE", "true")]).await;
    let response = client().get(format!("{}/", shop.url)).send().await.unwrap();
    let cookies = set_cookies(&response);
    assert!(cookies[0].ends_with("; Secure"), "{cookies:?}");
}

#[tokio::test]
async fn logout_expires_the_cookies_and_goes_home() {
    let shop = Shop::start().await;
    let browser = shop.browser();
    browser.page("/").await;
    browser.set_currency("EUR").await;
    let response = browser.get("/logout").await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(response.headers()["location"], "/");
    let cookies = set_cookies(&response);
    for name in ["shop_session-id", "shop_currency"] {
        let cookie = cookies
            .iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .unwrap();
        assert!(cookie.contains("Max-Age=0"), "{cookie}");
        assert!(cookie.contains("Path=/"), "{cookie}");
    }
    // The next visit is a new session in dollars.
    let next = browser.get("/").await;
    assert!(cookie_value(&set_cookies(&next), "shop_session-id").is_some());
    assert!(
        next.text()
            .await
            .unwrap()
            .contains("value=\"USD\" selected")
    );
    let head = client()
        .head(format!("{}/logout", shop.url))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::METHOD_NOT_ALLOWED);
}
