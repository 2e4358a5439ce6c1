//! The shop under test, a cookie-keeping browser, and independent money maths.

use std::{collections::HashMap, time::Duration};

use boutique_platform::{
    Env, ServiceConfig,
    testing::{HeldPort, TestServer},
};
use boutique_proto::boutique::orders::v1::order_service_client::OrderServiceClient;
use boutique_testkit::eventually;
use reqwest::{Client, Response, StatusCode, redirect::Policy};
use tonic::transport::Channel;

/// How long [`Browser::product_page`] tries.
const PAGE_PATIENCE: Duration = Duration::from_secs(10);

/// A backend the tests can stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Svc {
    Catalog,
    Currency,
    Cart,
    Recommendation,
    Shipping,
    Ad,
    Payment,
    Email,
    Checkout,
    Orders,
    Accounts,
    Ratings,
}

/// Every backend plus the frontend, running.
pub(crate) struct Shop {
    backends: HashMap<Svc, TestServer>,
    /// The ports of stopped backends, bound but not listening.
    held: Vec<HeldPort>,
    frontend: TestServer,
    /// The frontend's settings without the extras of `start_with`.
    frontend_env: Env,
    /// `http://127.0.0.1:PORT` followed by `BASE_URL`.
    pub(crate) url: String,
    /// `BASE_URL`.
    pub(crate) base: String,
}

/// The accounts service's token key in these tests, so a test can craft
/// tokens of its own (expired ones, say).
pub(crate) const TOKEN_KID: &str = "test-key";
pub(crate) const TOKEN_KEY: [u8; 32] = [7; 32];

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// An HS256 token as the accounts service signs them, for `account_id`,
/// issued at `iat` and expiring at `exp` (seconds since the epoch).
pub(crate) fn craft_token(account_id: &str, iat: i64, exp: i64) -> String {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let header = serde_json::json!({"alg": "HS256", "typ": "JWT", "kid": TOKEN_KID});
    let claims = serde_json::json!({
        "sub": account_id,
        "jti": uuid::Uuid::new_v4().to_string(),
        "iat": iat,
        "exp": exp,
        "iss": boutique_accounts::ISSUER,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &TOKEN_KEY);
    let signature = ring::hmac::sign(&key, signing_input.as_bytes());
    format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.as_ref())
    )
}

/// Seconds since the epoch.
pub(crate) fn now_s() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

fn loopback() -> Env {
    Env::from_pairs([("LISTEN_ADDR", "127.0.0.1"), ("PORT", "0")])
}

macro_rules! start {
    ($krate:ident, $env:expr) => {{ TestServer::start($krate::Config::from_env(&$env).unwrap()).await }};
}

impl Shop {
    /// The shop with default settings.
    pub(crate) async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// The shop with extra frontend settings (e.g. `BASE_URL`).
    pub(crate) async fn start_with(frontend_env: &[(&str, &str)]) -> Self {
        let catalog = start!(boutique_catalog, loopback());
        let catalog_addr = catalog.addr().to_string();
        let currency = start!(boutique_currency, loopback());
        let cart = start!(boutique_cart, loopback());
        let shipping = start!(boutique_shipping, loopback());
        let ad = start!(boutique_ad, loopback());
        let payment = start!(boutique_payment, loopback());
        let email = start!(boutique_email, loopback());
        // Orders in a throwaway in-memory database, private to this shop.
        let orders = TestServer::start(boutique_orders::Config {
            database: boutique_store::StoreConfig::memory(),
            ..boutique_orders::Config::from_env(&loopback()).unwrap()
        })
        .await;
        let accounts = TestServer::start(boutique_accounts::Config {
            database: boutique_store::StoreConfig::memory(),
            ..boutique_accounts::Config::from_env(
                &loopback()
                    .with("ORDERS_SERVICE_ADDR", orders.addr().to_string())
                    .with(
                        "ACCOUNTS_TOKEN_KEYS",
                        format!("{TOKEN_KID}:{}", b64(&TOKEN_KEY)),
                    ),
            )
            .unwrap()
        })
        .await;
        let ratings = TestServer::start(boutique_ratings::Config {
            database: boutique_store::StoreConfig::memory(),
            ..boutique_ratings::Config::from_env(
                &loopback()
                    .with("PRODUCT_CATALOG_SERVICE_ADDR", catalog_addr.clone())
                    .with("ORDERS_SERVICE_ADDR", orders.addr().to_string()),
            )
            .unwrap()
        })
        .await;
        let recommendation = start!(
            boutique_recommendation,
            loopback().with("PRODUCT_CATALOG_SERVICE_ADDR", catalog_addr.clone())
        );
        let checkout = start!(
            boutique_checkout,
            loopback()
                .with("PRODUCT_CATALOG_SERVICE_ADDR", catalog_addr.clone())
                .with("CURRENCY_SERVICE_ADDR", currency.addr().to_string())
                .with("CART_SERVICE_ADDR", cart.addr().to_string())
                .with("SHIPPING_SERVICE_ADDR", shipping.addr().to_string())
                .with("PAYMENT_SERVICE_ADDR", payment.addr().to_string())
                .with("EMAIL_SERVICE_ADDR", email.addr().to_string())
                .with("ORDERS_SERVICE_ADDR", orders.addr().to_string())
        );

        let mut env = loopback()
            .with("PRODUCT_CATALOG_SERVICE_ADDR", catalog_addr)
            .with("CURRENCY_SERVICE_ADDR", currency.addr().to_string())
            .with("CART_SERVICE_ADDR", cart.addr().to_string())
            .with(
                "RECOMMENDATION_SERVICE_ADDR",
                recommendation.addr().to_string(),
            )
            .with("CHECKOUT_SERVICE_ADDR", checkout.addr().to_string())
            .with("SHIPPING_SERVICE_ADDR", shipping.addr().to_string())
            .with("AD_SERVICE_ADDR", ad.addr().to_string())
            .with("ORDERS_SERVICE_ADDR", orders.addr().to_string())
            .with("ACCOUNTS_SERVICE_ADDR", accounts.addr().to_string())
            .with("RATINGS_SERVICE_ADDR", ratings.addr().to_string());
        let base_env = env.clone();
        for (name, value) in frontend_env {
            env = env.with(name, *value);
        }
        let (frontend, base) = start_frontend(&env).await;
        let url = format!("{}{base}", frontend.url());
        let backends = HashMap::from([
            (Svc::Catalog, catalog),
            (Svc::Currency, currency),
            (Svc::Cart, cart),
            (Svc::Recommendation, recommendation),
            (Svc::Shipping, shipping),
            (Svc::Ad, ad),
            (Svc::Payment, payment),
            (Svc::Email, email),
            (Svc::Checkout, checkout),
            (Svc::Orders, orders),
            (Svc::Accounts, accounts),
            (Svc::Ratings, ratings),
        ]);
        Self {
            backends,
            held: Vec::new(),
            frontend,
            frontend_env: base_env,
            url,
            base,
        }
    }

    /// Stops the frontend and starts another in front of the same backends
    /// (so carts are kept) with `frontend_env` as its extra settings. It
    /// listens on another port: take a new [`Browser`] or
    /// [`Browser::moved_to`].
    pub(crate) async fn restart_frontend(&mut self, frontend_env: &[(&str, &str)]) {
        let mut env = self.frontend_env.clone();
        for (name, value) in frontend_env {
            env = env.with(name, *value);
        }
        let (frontend, base) = start_frontend(&env).await;
        let old = std::mem::replace(&mut self.frontend, frontend);
        old.stop().await;
        self.url = format!("{}{base}", self.frontend.url());
        self.base = base;
    }

    /// Really stops one backend; its port then refuses connections, and is
    /// held for the rest of the test so that no other test's server, handed
    /// the freed port, answers in its place.
    pub(crate) async fn stop(&mut self, svc: Svc) {
        let server = self.backends.remove(&svc).expect("running");
        self.held.push(server.stop_holding_port().await);
    }

    /// Stops the frontend and fails the test unless it shut down cleanly.
    pub(crate) async fn stop_frontend(self) {
        self.frontend.stop().await;
    }

    /// A gRPC client of the shop's orders service, to make orders directly.
    pub(crate) async fn orders(&self) -> OrderServiceClient<Channel> {
        let addr = self.backends[&Svc::Orders].addr();
        OrderServiceClient::connect(format!("http://{addr}"))
            .await
            .unwrap()
    }

    /// A browser with an empty cookie jar that does not follow redirects.
    pub(crate) fn browser(&self) -> Browser {
        Browser {
            client: Client::builder()
                .cookie_store(true)
                .redirect(Policy::none())
                .build()
                .unwrap(),
            url: self.url.clone(),
        }
    }

    /// The frontend's root URL without `BASE_URL`.
    pub(crate) fn origin(&self) -> String {
        self.frontend.url()
    }
}

/// A frontend with the settings `env`, running, and its `BASE_URL`.
async fn start_frontend(env: &Env) -> (TestServer, String) {
    let config = boutique_frontend::Config::from_env(env).unwrap();
    let base = config.base_url.clone();
    (TestServer::start(config).await, base)
}

/// An HTTP client with a cookie jar, rooted at the shop's URL.
pub(crate) struct Browser {
    pub(crate) client: Client,
    pub(crate) url: String,
}

impl Browser {
    /// The same browser, cookies and all, pointed at the shop's URL now
    /// (cookies are not bound to a port, as in a real browser).
    pub(crate) fn moved_to(&self, shop: &Shop) -> Self {
        Self {
            client: self.client.clone(),
            url: shop.url.clone(),
        }
    }

    pub(crate) async fn get(&self, path: &str) -> Response {
        self.client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap()
    }

    pub(crate) async fn post(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.client
            .post(format!("{}{path}", self.url))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// GET and expect 200; the body.
    pub(crate) async fn page(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.text().await.unwrap()
    }

    /// A product page with its ad and its ratings: GET until it has both.
    /// A page leaves them out when their backend misses its short deadline
    /// (the ad's 100 ms, the ratings' 300 ms), and on a busy machine the
    /// first call, which also opens the connection, can miss it.
    pub(crate) async fn product_page(&self, product_id: &str) -> String {
        let path = format!("/product/{product_id}");
        eventually(
            &format!("GET {path} with its ad and ratings"),
            PAGE_PATIENCE,
            || async {
                let html = self.page(&path).await;
                let complete = html.contains("<aside class=\"ad\"")
                    && !html.contains("data-testid=\"ratings-unavailable\"");
                complete.then_some(html)
            },
        )
        .await
    }

    /// Starts this browser's session and returns its id (the orders'
    /// `owner`), read from the signed cookie the shop sets: `<id>.<signature>`.
    /// A page that needs no backend mints it.
    pub(crate) async fn session_id(&self) -> String {
        let response = self.get("/assistant").await;
        assert_eq!(response.status(), StatusCode::OK);
        let cookie = cookie_value(&set_cookies(&response), "shop_session-id")
            .expect("a new browser gets a session");
        cookie.split_once('.').unwrap().0.to_owned()
    }

    pub(crate) async fn add_to_cart(&self, product_id: &str, quantity: u32) {
        let quantity = quantity.to_string();
        let response = self
            .post(
                "/cart",
                &[("product_id", product_id), ("quantity", &quantity)],
            )
            .await;
        assert_eq!(response.status(), StatusCode::FOUND);
    }

    pub(crate) async fn set_currency(&self, code: &str) {
        let response = self.post("/setCurrency", &[("currency_code", code)]).await;
        assert_eq!(response.status(), StatusCode::FOUND);
    }
}

/// The checkout form upstream's cart page prefills, with a year to come.
pub(crate) fn checkout_form(card: &str, year: i32) -> Vec<(&'static str, String)> {
    vec![
        ("email", "someone@example.com".to_owned()),
        ("street_address", "1600 Amphitheatre Parkway".to_owned()),
        ("zip_code", "94043".to_owned()),
        ("city", "Mountain View".to_owned()),
        ("state", "CA".to_owned()),
        ("country", "United States".to_owned()),
        ("credit_card_number", card.to_owned()),
        ("credit_card_expiration_month", "1".to_owned()),
        ("credit_card_expiration_year", year.to_string()),
        ("credit_card_cvv", "672".to_owned()),
    ]
}

pub(crate) fn as_pairs<'a>(form: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    form.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

pub(crate) fn this_year() -> i32 {
    // Days since the epoch are enough to know the year for these tests.
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut year = 1970;
    let mut days = secs / 86_400;
    loop {
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let len = if leap { 366 } else { 365 };
        if days < len {
            return year;
        }
        days -= len;
        year += 1;
    }
}

/// Units of currency per euro, ×100 000 (the reference rates).
fn rate(code: &str) -> i128 {
    match code {
        "EUR" => 100_000,
        "USD" => 113_050,
        "JPY" => 12_640_000,
        "GBP" => 85_970,
        "TRY" => 612_470,
        "CAD" => 151_280,
        other => panic!("no rate for {other}"),
    }
}

/// Converts USD nanos into `to`, rounding half away from zero, computed here
/// independently of the shop's money crate.
pub(crate) fn usd_to(nanos: i128, to: &str) -> i128 {
    let numerator = nanos * rate(to);
    let denominator = rate("USD");
    let (q, r) = (numerator / denominator, numerator % denominator);
    if 2 * r.abs() >= denominator {
        q + numerator.signum()
    } else {
        q
    }
}

/// Nanos in one minor unit of the offered currencies: a whole yen, else a cent.
fn minor_unit(code: &str) -> i128 {
    if code == "JPY" {
        1_000_000_000
    } else {
        10_000_000
    }
}

/// `nanos` rounded to the currency's minor unit, halves away from zero (for
/// the positive amounts these tests use: add half a unit, drop the rest).
pub(crate) fn rounded(code: &str, nanos: i128) -> i128 {
    let step = minor_unit(code);
    (nanos + step / 2) / step * step
}

/// The shop's price text for a positive amount: symbol, units, and the
/// minor units rounded (two digits; none for yen).
pub(crate) fn price_text(code: &str, nanos: i128) -> String {
    let symbol = match code {
        "EUR" => "€",
        "JPY" => "¥",
        "GBP" => "£",
        "TRY" => "₺",
        _ => "$",
    };
    let nanos = rounded(code, nanos);
    let units = nanos / 1_000_000_000;
    if code == "JPY" {
        format!("{symbol}{units}")
    } else {
        format!(
            "{symbol}{units}.{:02}",
            (nanos % 1_000_000_000) / 10_000_000
        )
    }
}

/// The text of the first element carrying `data-testid="{id}"`.
pub(crate) fn testid<'a>(html: &'a str, id: &str) -> Option<&'a str> {
    let marker = format!("data-testid=\"{id}\">");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('<')? + start;
    Some(html[start..end].trim())
}

/// Every value of `Set-Cookie`.
pub(crate) fn set_cookies(response: &Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// The value of the cookie `name` in a `Set-Cookie` list.
pub(crate) fn cookie_value(cookies: &[String], name: &str) -> Option<String> {
    cookies.iter().find_map(|cookie| {
        let first = cookie.split(';').next()?;
        let (key, value) = first.split_once('=')?;
        (key == name).then(|| value.to_owned())
    })
}
