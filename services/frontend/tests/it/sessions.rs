//! Session and currency cookies: attributes, signed minting, replacement of
//! anything we did not sign, key rotation, probes, shared-session mode,
//! `BASE_URL` scoping and logout.

use reqwest::{Client, Response, StatusCode, redirect::Policy};

use crate::helpers::{Shop, cookie_value, set_cookies, testid};

fn client() -> Client {
    Client::builder().redirect(Policy::none()).build().unwrap()
}

fn is_uuid_v4(text: &str) -> bool {
    text.len() == 36
        && text.as_bytes()[14] == b'4'
        && text.chars().filter(|c| *c == '-').count() == 4
}

const SECRET: &str = "an-example-session-secret-of-40-bytes!!!";
const NEXT_SECRET: &str = "the-next-session-secret-after-a-rotation";

/// The `shop_session-id` value a response sets, if any.
fn session_cookie(response: &Response) -> Option<String> {
    cookie_value(&set_cookies(response), "shop_session-id")
}

/// The id and the signature of a session cookie value.
fn split(value: &str) -> (&str, &str) {
    value.split_once('.').expect("an id and a signature")
}

/// GET `path` sending `cookie` as the session: the response's status, the
/// session cookie it sets (if any) and the cart badge.
async fn visit_as(shop: &Shop, cookie: &str) -> (StatusCode, Option<String>, String) {
    let response = client()
        .get(format!("{}/", shop.url))
        .header("cookie", format!("shop_session-id={cookie}"))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let set = session_cookie(&response);
    let html = response.text().await.unwrap();
    let badge = testid(&html, "cart-size").unwrap_or_default().to_owned();
    (status, set, badge)
}

#[tokio::test]
async fn first_visit_mints_a_signed_session_with_safe_attributes() {
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
    let value = cookie_value(&cookies, "shop_session-id").unwrap();
    let (id, signature) = split(&value);
    assert!(is_uuid_v4(id), "{id}");
    // HMAC-SHA256 in URL-safe base64 without padding.
    assert_eq!(signature.len(), 43, "{signature}");
    for attribute in ["Max-Age=172800", "HttpOnly", "SameSite=Lax", "Path=/;"] {
        assert!(
            cookie.contains(attribute) || cookie.ends_with(attribute.trim_end_matches(';')),
            "{attribute} missing in {cookie}"
        );
    }
    assert!(!cookie.contains("Secure"));
    // The footer shows the session's tag (as logged) and the request id, but
    // never the id itself.
    let html = response.text().await.unwrap();
    assert!(!html.contains(id), "the session id is on the page");
    let tag = html
        .split("session: <code>")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap();
    assert!(
        tag.len() == 12 && tag.bytes().all(|b| b.is_ascii_hexdigit()),
        "{tag}"
    );
    assert!(html.contains("request-id: <code>"));
}

#[tokio::test]
async fn a_signed_session_is_kept_and_anything_else_replaced() {
    let shop = Shop::start().await;
    let alice = shop.browser();
    let first = alice.get("/").await;
    let value = session_cookie(&first).unwrap();
    let (id, signature) = split(&value);
    alice.add_to_cart("6E92ZMYYFZ", 3).await;
    let again = alice.get("/cart").await;
    assert!(
        set_cookies(&again).is_empty(),
        "a kept session is not re-sent"
    );
    assert_eq!(testid(&again.text().await.unwrap(), "cart-size"), Some("3"));

    // Whoever learns Alice's id still cannot use her cart: only a cookie the
    // shop signed is a session.
    let mut tampered = signature.to_owned().into_bytes();
    tampered[10] = if tampered[10] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let other = Shop::start_with(&[("SESSION_SECRET", SECRET)]).await;
    let signed_elsewhere = session_cookie(
        &client()
            .get(format!("{}/", other.url))
            .send()
            .await
            .unwrap(),
    )
    .unwrap();
    let forged = [
        id.to_owned(),                                         // upstream's bare UUID
        format!("{id}.{tampered}"),                            // a tampered signature
        format!("{id}.{}", split(&signed_elsewhere).1),        // another id's signature
        format!("{}.{signature}", split(&signed_elsewhere).0), // another id, her signature
        "hacker".to_owned(),
        "../../x".to_owned(),
        "00000000-0000-0000-0000-00000000000g".to_owned(),
    ];
    for bad in forged {
        let (status, minted, badge) = visit_as(&shop, &bad).await;
        assert_eq!(status, StatusCode::OK, "{bad}");
        let minted = minted.unwrap_or_else(|| panic!("{bad} was trusted"));
        let (new_id, _) = split(&minted);
        assert!(is_uuid_v4(new_id) && new_id != id, "{bad}");
        assert_eq!(badge, "0", "{bad} reached Alice's cart");
    }
    // A cookie signed by another shop (another secret) is no session here either.
    let (_, minted, _) = visit_as(&shop, &signed_elsewhere).await;
    assert_ne!(split(&minted.unwrap()).0, split(&signed_elsewhere).0);
    // And the real cookie still works.
    let (_, minted, badge) = visit_as(&shop, &value).await;
    assert_eq!((minted, badge.as_str()), (None, "3"));
}

#[tokio::test]
async fn a_configured_secret_outlives_restarts_and_rotates() {
    let mut shop = Shop::start_with(&[("SESSION_SECRET", SECRET)]).await;
    let browser = shop.browser();
    let value = session_cookie(&browser.get("/").await).unwrap();
    let id = split(&value).0.to_owned();
    browser.add_to_cart("OLJCESPC7Z", 2).await;

    // Same secret, new process: the same session and cart.
    shop.restart_frontend(&[("SESSION_SECRET", SECRET)]).await;
    assert_eq!(
        visit_as(&shop, &value).await,
        (StatusCode::OK, None, "2".to_owned())
    );

    // Rotation: the old secret still verifies, and the session is signed
    // again with the new one (same id, same cart).
    shop.restart_frontend(&[
        ("SESSION_SECRET", NEXT_SECRET),
        ("SESSION_SECRET_PREVIOUS", SECRET),
    ])
    .await;
    let (status, resigned, badge) = visit_as(&shop, &value).await;
    assert_eq!((status, badge.as_str()), (StatusCode::OK, "2"));
    let resigned = resigned.expect("re-signed with the current key");
    assert_eq!(split(&resigned).0, id);
    assert_ne!(resigned, value);
    assert_eq!(
        visit_as(&shop, &resigned).await,
        (StatusCode::OK, None, "2".to_owned())
    );
    // A browser that keeps cookies moves to the new signature by itself.
    let moved = browser.moved_to(&shop);
    assert_eq!(
        session_cookie(&moved.get("/").await).as_deref(),
        Some(resigned.as_str())
    );
    assert!(session_cookie(&moved.get("/").await).is_none());

    // Rotation done: the old signature is a forgery now, the new one holds.
    shop.restart_frontend(&[("SESSION_SECRET", NEXT_SECRET)])
        .await;
    let (_, replaced, badge) = visit_as(&shop, &value).await;
    assert_ne!(split(&replaced.unwrap()).0, id);
    assert_eq!(badge, "0");
    assert_eq!(
        visit_as(&shop, &resigned).await,
        (StatusCode::OK, None, "2".to_owned())
    );

    // Without a secret, each process has its own key: a restart ends sessions.
    shop.restart_frontend(&[]).await;
    let (_, replaced, badge) = visit_as(&shop, &resigned).await;
    assert!(replaced.is_some());
    assert_eq!(badge, "0");
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
async fn shared_session_mode_uses_the_upstream_constant_signed() {
    let shop = Shop::start_with(&[("ENABLE_SINGLE_SHARED_SESSION", "true")]).await;
    let alice = shop.browser();
    let bob = shop.browser();
    let minted = session_cookie(&alice.get("/").await).unwrap();
    let (id, signature) = split(&minted);
    assert_eq!(id, boutique_frontend::SHARED_SESSION_ID);
    assert_eq!(signature.len(), 43);
    alice.add_to_cart("6E92ZMYYFZ", 2).await;
    assert_eq!(testid(&bob.page("/").await, "cart-size"), Some("2"));
    // The signed constant is kept; the bare one is replaced (by the signed one).
    assert_eq!(
        visit_as(&shop, &minted).await,
        (StatusCode::OK, None, "2".to_owned())
    );
    let (_, replaced, _) = visit_as(&shop, boutique_frontend::SHARED_SESSION_ID).await;
    assert_eq!(replaced.as_deref(), Some(minted.as_str()));
    // Probes still mint nothing.
    for probe in ["x-readiness-probe", "x-liveness-probe"] {
        let (status, set, _) = visit_as(&shop, probe).await;
        assert_eq!((status, set), (StatusCode::OK, None), "{probe}");
    }
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
    assert!(cookies[0].contains("; Secure"), "{cookies:?}");
    let browser = shop.browser();
    browser.page("/").await;
    let set = browser
        .post("/setCurrency", &[("currency_code", "EUR")])
        .await;
    let currency = set_cookies(&set);
    assert!(currency[0].contains("; Secure"), "{currency:?}");
    let logout = set_cookies(&browser.get("/logout").await);
    assert!(logout.iter().all(|c| c.contains("; Secure")), "{logout:?}");
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
