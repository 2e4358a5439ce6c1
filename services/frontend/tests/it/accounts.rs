//! The account pages over real HTTP, in front of the real accounts, orders,
//! cart and checkout services: signing up and in (and every refusal's
//! message), the account cookie, signing out, the guest's cart and orders
//! joining the account, the order history, and the account page's forms.

use reqwest::{StatusCode, header};

use crate::helpers::{
    Browser, Shop, Svc, as_pairs, checkout_form, cookie_value, set_cookies, testid, this_year,
};

pub(crate) const PASSWORD: &str = "plum tart at noon";

/// A fresh email for one test.
pub(crate) fn email() -> String {
    format!("shopper-{}@example.com", uuid::Uuid::new_v4())
}

impl Browser {
    /// Signs up through the form; the response (a 302 on success).
    pub(crate) async fn sign_up(&self, email: &str, password: &str) -> reqwest::Response {
        self.post(
            "/signup",
            &[
                ("email", email),
                ("display_name", "Ada"),
                ("password", password),
                ("next", "/cart"),
            ],
        )
        .await
    }

    /// Signs in through the form; the response (a 302 on success).
    pub(crate) async fn sign_in(&self, email: &str, password: &str) -> reqwest::Response {
        self.post("/signin", &[("email", email), ("password", password)])
            .await
    }

    /// Signs up as a new account and expects it to work; the email.
    pub(crate) async fn new_account(&self) -> String {
        let email = email();
        let response = self.sign_up(&email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::FOUND, "sign-up");
        email
    }

    /// Places an order for what is in the cart, through the checkout form.
    pub(crate) async fn check_out(&self) -> String {
        let form = checkout_form("4432801561520454", this_year() + 1);
        let response = self.post("/cart/checkout", &as_pairs(&form)).await;
        assert_eq!(response.status(), StatusCode::OK, "checkout");
        let html = response.text().await.unwrap();
        let start = html.find("/orders/").expect("a link to the order") + "/orders/".len();
        html[start..start + 36].to_owned()
    }
}

fn location(response: &reqwest::Response) -> &str {
    response.headers()[header::LOCATION].to_str().unwrap()
}

#[tokio::test]
async fn a_shopper_signs_up_and_the_account_cookie_is_http_only() {
    let shop = Shop::start().await;
    let browser = shop.browser();
    let email = email();
    let response = browser.sign_up(&email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(
        location(&response),
        "/cart",
        "back where the shopper was going"
    );
    let cookies = set_cookies(&response);
    let account = cookies
        .iter()
        .find(|cookie| cookie.starts_with("shop_account="))
        .expect("the account cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(account.contains(attribute), "{account}");
    }
    assert!(!account.contains("Secure"), "plain HTTP: {account}");

    let home = browser.page("/").await;
    assert_eq!(testid(&home, "account-name"), Some("Ada"));
    assert!(!home.contains("data-testid=\"sign-in\""));
    let page = browser.page("/account").await;
    assert_eq!(testid(&page, "account-email"), Some(email.as_str()));
    assert_eq!(testid(&page, "account-display-name"), Some("Ada"));
    // Signed in, the sign-in page sends the shopper to their account.
    let response = browser.get("/signin").await;
    assert_eq!(location(&response), "/account");
    shop.stop_frontend().await;
}

#[tokio::test]
async fn cookies_are_secure_behind_a_tls_proxy() {
    let shop = Shop::start().await;
    let browser = shop.browser();
    let response = browser
        .client
        .post(format!("{}/signup", browser.url))
        .header("x-forwarded-proto", "https")
        .form(&[("email", email().as_str()), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    let cookies = set_cookies(&response);
    for name in ["shop_account=", "shop_session-id="] {
        let cookie = cookies.iter().find(|c| c.starts_with(name)).unwrap();
        assert!(cookie.contains("; Secure"), "{cookie}");
    }
    shop.stop_frontend().await;
}

#[tokio::test]
async fn every_refusal_says_what_to_do() {
    let shop = Shop::start().await;
    let browser = shop.browser();
    let email = browser.new_account().await;
    let other = shop.browser();

    // Weak passwords: too short, too common; the email is kept, the password is not.
    for (password, words) in [
        ("short", "at least 10 characters"),
        ("1234567890", "most common"),
    ] {
        let response = other.sign_up("new@example.com", password).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = response.text().await.unwrap();
        let error = testid(&html, "form-error").unwrap_or_default();
        assert!(html.contains(words), "{password}: {error}");
        assert!(html.contains("value=\"new@example.com\""));
        assert!(
            !html.contains(&format!("value=\"{password}\"")),
            "never echoed"
        );
    }
    // An email with an account: 409.
    let response = other.sign_up(&email.to_uppercase(), PASSWORD).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(response.text().await.unwrap().contains("already exists"));
    // Not an email.
    let response = other.sign_up("not-an-email", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Email is not an email address")
    );

    // A wrong password and an unknown email read exactly the same.
    let wrong = other.sign_in(&email, "not my password").await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        set_cookies(&wrong)
            .iter()
            .all(|c| !c.starts_with("shop_account="))
    );
    let wrong = wrong.text().await.unwrap();
    let unknown = other.sign_in("nobody@example.com", "not my password").await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let unknown = unknown.text().await.unwrap();
    let message = "The email or password is wrong";
    assert!(wrong.contains(message) && unknown.contains(message));

    // After five failures for the email: 429 with Retry-After, even with the right password.
    for _ in 0..4 {
        other.sign_in(&email, "not my password").await;
    }
    let throttled = other.sign_in(&email, PASSWORD).await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = throttled.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait >= 1, "{wait}");
    assert!(
        throttled
            .text()
            .await
            .unwrap()
            .contains("Too many failed sign-in attempts")
    );
    shop.stop_frontend().await;
}

#[tokio::test]
async fn cross_site_sign_ins_are_refused() {
    let shop = Shop::start().await;
    let browser = shop.browser();
    let response = browser
        .client
        .post(format!("{}/signin", browser.url))
        .header("origin", "https://evil.example")
        .form(&[("email", "a@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = browser
        .client
        .post(format!("{}/product/OLJCESPC7Z/rating", browser.url))
        .header("sec-fetch-site", "cross-site")
        .form(&[("stars", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    shop.stop_frontend().await;
}

#[tokio::test]
async fn signing_out_ends_the_token_and_the_cookie() {
    let shop = Shop::start().await;
    let browser = shop.browser();
    let email = browser.new_account().await;
    let token = cookie_value(
        &set_cookies(&browser.sign_in(&email, PASSWORD).await),
        "shop_account",
    )
    .unwrap();
    let response = browser.post("/signout", &[]).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(location(&response), "/signin?done=signed-out");
    let cookies = set_cookies(&response);
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("shop_account=;") && c.contains("Max-Age=0"))
    );
    let page = browser.page("/signin?done=signed-out").await;
    assert_eq!(testid(&page, "notice"), Some("You are signed out."));
    assert_eq!(
        location(&browser.get("/account").await),
        "/signin?next=%2Faccount"
    );

    // The old token is signed out: a browser still sending it is a guest,
    // and its cookie is dropped.
    let replay = shop.browser();
    let response = replay
        .client
        .get(format!("{}/", replay.url))
        .header("cookie", format!("shop_account={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        set_cookies(&response)
            .iter()
            .any(|c| c.starts_with("shop_account=;") && c.contains("Max-Age=0"))
    );
    let html = response.text().await.unwrap();
    assert!(html.contains("data-testid=\"sign-in\""), "a guest's header");
    shop.stop_frontend().await;
}

#[tokio::test]
async fn the_guest_cart_joins_the_account_at_sign_in() {
    let shop = Shop::start().await;
    let browser = shop.browser();
    let email = browser.new_account().await;
    browser.add_to_cart("66VCHSJNUP", 1).await;
    browser.post("/signout", &[]).await;

    // A guest fills a cart, then signs in: the account's cart holds both.
    browser.add_to_cart("OLJCESPC7Z", 2).await;
    browser.add_to_cart("66VCHSJNUP", 3).await;
    let response = browser.sign_in(&email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert!(
        cookie_value(&set_cookies(&response), "shop_session-id").is_some(),
        "the guest session is replaced by a new one"
    );
    let cart = browser.page("/cart").await;
    assert!(
        cart.contains("Cart (6)"),
        "1 + 3 tank tops and 2 sunglasses"
    );
    assert_eq!(testid(&cart, "cart-size"), Some("6"));

    // Signed out again, the guest cart is empty: it moved.
    browser.post("/signout", &[]).await;
    let cart = browser.page("/cart").await;
    assert!(cart.contains("Your shopping cart is empty"));
    shop.stop_frontend().await;
}

#[tokio::test]
async fn a_guests_orders_become_the_accounts_and_show_in_its_history() {
    let shop = Shop::start().await;
    let browser = shop.browser();
    browser.add_to_cart("OLJCESPC7Z", 1).await;
    let as_guest = browser.check_out().await;
    let orders = browser.page("/orders").await;
    assert!(orders.contains(&as_guest[..8]));

    browser.new_account().await;
    let history = browser.page("/orders").await;
    assert!(
        history.contains(&as_guest[..8]),
        "the guest's order is the account's"
    );
    assert_eq!(
        browser.get(&format!("/orders/{as_guest}")).await.status(),
        StatusCode::OK
    );

    // Signed in, new orders are the account's; another device sees them all.
    browser.add_to_cart("66VCHSJNUP", 1).await;
    let signed_in = browser.check_out().await;
    let email = {
        let page = browser.page("/account").await;
        testid(&page, "account-email").unwrap().to_owned()
    };
    let phone = shop.browser();
    phone.sign_in(&email, PASSWORD).await;
    let history = phone.page("/orders").await;
    for id in [&as_guest, &signed_in] {
        assert!(history.contains(&id[..8]), "{id}");
    }
    // Signed out, the guest session owns none of them.
    browser.post("/signout", &[]).await;
    let orders = browser.page("/orders").await;
    assert!(orders.contains("data-testid=\"orders-empty\""));
    assert_eq!(
        browser.get(&format!("/orders/{signed_in}")).await.status(),
        StatusCode::NOT_FOUND
    );
    shop.stop_frontend().await;
}

#[tokio::test]
async fn a_password_change_signs_out_everywhere_else() {
    let shop = Shop::start().await;
    let browser = shop.browser();
    let email = browser.new_account().await;
    let laptop = shop.browser();
    laptop.sign_in(&email, PASSWORD).await;

    let wrong = browser
        .post(
            "/account/password",
            &[
                ("current_password", "not my password"),
                ("new_password", "a brand new secret"),
            ],
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = wrong.text().await.unwrap();
    assert!(html.contains("data-testid=\"password-error\""));
    assert!(html.contains("The email or password is wrong"));
    let weak = browser
        .post(
            "/account/password",
            &[("current_password", PASSWORD), ("new_password", "short")],
        )
        .await;
    assert_eq!(weak.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let changed = browser
        .post(
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "a brand new secret"),
            ],
        )
        .await;
    assert_eq!(changed.status(), StatusCode::FOUND);
    assert_eq!(location(&changed), "/account?done=password");
    let page = browser.page("/account?done=password").await;
    assert!(testid(&page, "notice").is_some_and(|n| n.contains("password is changed")));
    // The other browser is signed out.
    assert_eq!(
        location(&laptop.get("/account").await),
        "/signin?next=%2Faccount"
    );
    assert_eq!(
        laptop.sign_in(&email, "a brand new secret").await.status(),
        StatusCode::FOUND
    );

    // Sign out everywhere: both are signed out.
    let response = browser.post("/account/signout-everywhere", &[]).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    for device in [&browser, &laptop] {
        assert_eq!(device.get("/account").await.status(), StatusCode::FOUND);
    }
    shop.stop_frontend().await;
}

#[tokio::test]
async fn a_deleted_account_keeps_its_orders_anonymised() {
    let shop = Shop::start().await;
    let browser = shop.browser();
    let email = browser.new_account().await;
    browser.add_to_cart("OLJCESPC7Z", 1).await;
    let order_id = browser.check_out().await;

    // The password and the box are both needed.
    let refused = browser
        .post("/account/delete", &[("password", PASSWORD)])
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let refused = browser
        .post(
            "/account/delete",
            &[("password", "not my password"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text().await.unwrap();
    assert!(html.contains("data-testid=\"delete-error\""));
    assert!(html.contains("The email or password is wrong"));

    let deleted = browser
        .post(
            "/account/delete",
            &[("password", PASSWORD), ("confirm", "yes")],
        )
        .await;
    assert_eq!(deleted.status(), StatusCode::FOUND);
    assert_eq!(location(&deleted), "/signin?done=deleted");
    assert_eq!(
        browser.sign_in(&email, PASSWORD).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // The order is still on record, naming nobody.
    let mut orders = shop.orders().await;
    let order = orders
        .get_order(boutique_proto::boutique::orders::v1::GetOrderRequest {
            order_id: order_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(order.owner.starts_with("deleted-"), "{}", order.owner);
    assert_eq!(order.email, "");
    shop.stop_frontend().await;
}

#[tokio::test]
async fn an_accounts_outage_leaves_guests_shopping() {
    let mut shop = Shop::start().await;
    let browser = shop.browser();
    browser.new_account().await;
    shop.stop(Svc::Accounts).await;
    // The signed-in browser is served as a guest (its cookie kept for later).
    let response = browser.get("/").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        set_cookies(&response)
            .iter()
            .all(|c| !c.starts_with("shop_account="))
    );
    let guest = shop.browser();
    assert_eq!(
        guest.get("/product/OLJCESPC7Z").await.status(),
        StatusCode::OK
    );
    guest.add_to_cart("OLJCESPC7Z", 1).await;
    // Signing in says it is a short break.
    let response = guest.sign_in("a@example.com", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.text().await.unwrap().contains("short break"));
    shop.stop_frontend().await;
}

#[tokio::test]
async fn sign_in_goes_back_only_to_pages_of_the_shop() {
    let shop = Shop::start().await;
    let browser = shop.browser();
    let email = browser.new_account().await;
    browser.post("/signout", &[]).await;
    let response = browser
        .post(
            "/signin",
            &[
                ("email", &email),
                ("password", PASSWORD),
                ("next", "https://evil.example/"),
            ],
        )
        .await;
    assert_eq!(location(&response), "/");
    browser.post("/signout", &[]).await;
    let response = browser
        .post(
            "/signin",
            &[
                ("email", &email),
                ("password", PASSWORD),
                ("next", "/product/OLJCESPC7Z"),
            ],
        )
        .await;
    assert_eq!(location(&response), "/product/OLJCESPC7Z");
    shop.stop_frontend().await;
}
