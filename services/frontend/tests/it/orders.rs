//! The order pages and the JSON order API, over a real orders service (an
//! in-memory SQLite database). Orders are made directly through its gRPC API
//! (`BeginOrder`, `PriceOrder`, `AdvanceOrder`, `NoteOrder`), owned by a
//! browser's session id, as checkout makes them.

use boutique_proto::{
    Address, Money,
    boutique::orders::v1::{
        self as pb, AdvanceOrderRequest, BeginOrderRequest, NoteOrderRequest, OrderState,
        PriceOrderRequest, order_service_client::OrderServiceClient,
    },
};
use reqwest::{StatusCode, header};
use serde_json::Value;
use tonic::transport::Channel;

use crate::helpers::{Browser, Shop, as_pairs, checkout_form, testid, this_year};

type Orders = OrderServiceClient<Channel>;

const NANOS: i128 = 1_000_000_000;

fn money(currency: &str, nanos: i128) -> Money {
    Money {
        currency_code: currency.to_owned(),
        units: i64::try_from(nanos / NANOS).unwrap(),
        nanos: i32::try_from(nanos % NANOS).unwrap(),
    }
}

fn address() -> Address {
    Address {
        street_address: "1600 Amphitheatre Parkway".to_owned(),
        city: "Mountain View".to_owned(),
        state: "CA".to_owned(),
        country: "United States".to_owned(),
        zip_code: 94043,
    }
}

/// Opens and prices an order for `owner` from `cart`: each line is
/// `(product id, quantity, unit cost in nanos)`; shipping is 8.99.
async fn place(
    orders: &mut Orders,
    owner: &str,
    cart: &str,
    currency: &str,
    lines: &[(&str, i32, i128)],
) -> pb::Order {
    let begun = orders
        .begin_order(BeginOrderRequest {
            owner: owner.to_owned(),
            cart_id: cart.to_owned(),
            email: "someone@example.com".to_owned(),
            shipping_address: Some(address()),
            currency_code: currency.to_owned(),
            card_last_four: "0454".to_owned(),
            ..BeginOrderRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    let order_id = begun.order.unwrap().id;
    let shipping = 8_990_000_000;
    let total = lines
        .iter()
        .map(|(_, quantity, unit)| i128::from(*quantity) * unit)
        .sum::<i128>()
        + shipping;
    orders
        .price_order(PriceOrderRequest {
            order_id,
            lines: lines
                .iter()
                .map(|(product_id, quantity, unit)| pb::OrderLine {
                    product_id: (*product_id).to_owned(),
                    quantity: *quantity,
                    unit_cost: Some(money(currency, *unit)),
                })
                .collect(),
            shipping_cost: Some(money(currency, shipping)),
            total: Some(money(currency, total)),
        })
        .await
        .unwrap()
        .into_inner()
}

/// Moves an order on; `request` adds the move's ids or reason.
async fn advance(
    orders: &mut Orders,
    order_id: &str,
    to: OrderState,
    request: AdvanceOrderRequest,
) -> pb::Order {
    orders
        .advance_order(AdvanceOrderRequest {
            order_id: order_id.to_owned(),
            to: to.into(),
            ..request
        })
        .await
        .unwrap()
        .into_inner()
}

/// An order charged and shipped, with a warning: the richest order there is.
pub(crate) async fn shipped_order(orders: &mut Orders, owner: &str) -> pb::Order {
    let order = place(
        orders,
        owner,
        owner,
        "EUR",
        &[
            ("OLJCESPC7Z", 2, 17_680_000_000),
            ("6E92ZMYYFZ", 1, 7_500_000_000),
        ],
    )
    .await;
    advance(
        orders,
        &order.id,
        OrderState::Charged,
        AdvanceOrderRequest {
            transaction_id: "txn-0001".to_owned(),
            ..AdvanceOrderRequest::default()
        },
    )
    .await;
    advance(
        orders,
        &order.id,
        OrderState::Shipped,
        AdvanceOrderRequest {
            tracking_id: "AB-44000-220000000".to_owned(),
            ..AdvanceOrderRequest::default()
        },
    )
    .await;
    orders
        .note_order(NoteOrderRequest {
            order_id: order.id.clone(),
            cart_emptied: true,
            warning: "confirmation email not sent".to_owned(),
            ..NoteOrderRequest::default()
        })
        .await
        .unwrap()
        .into_inner()
}

/// A declined order: its history carries the reason.
pub(crate) async fn declined_order(orders: &mut Orders, owner: &str, cart: &str) -> pb::Order {
    let order = place(
        orders,
        owner,
        cart,
        "USD",
        &[("OLJCESPC7Z", 1, 19_990_000_000)],
    )
    .await;
    advance(
        orders,
        &order.id,
        OrderState::Declined,
        AdvanceOrderRequest {
            reason: "The card was declined".to_owned(),
            ..AdvanceOrderRequest::default()
        },
    )
    .await
}

async fn get_json(browser: &Browser, path: &str) -> (StatusCode, String, Value) {
    let response = browser.get(path).await;
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.text().await.unwrap();
    let value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"));
    (status, content_type, value)
}

/// Checks an RFC 9457 problem document with `status`.
async fn expect_problem(browser: &Browser, path: &str, status: StatusCode) -> Value {
    let (got, content_type, problem) = get_json(browser, path).await;
    assert_eq!(got, status, "{path}: {problem}");
    assert_eq!(content_type, "application/problem+json", "{path}");
    crate::api::assert_problem_shape(&problem, status);
    problem
}

fn rows(html: &str) -> usize {
    html.matches("data-testid=\"order-row\"").count()
}

#[tokio::test]
async fn the_orders_page_lists_the_sessions_own_orders_newest_first() {
    let shop = Shop::start().await;
    let mut orders = shop.orders().await;
    let alice = shop.browser();
    let bob = shop.browser();
    let (alice_id, bob_id) = (alice.session_id().await, bob.session_id().await);

    let empty = alice.page("/orders").await;
    assert_eq!(
        testid(&empty, "orders-empty"),
        Some("You haven't placed any orders yet.")
    );
    assert_eq!(rows(&empty), 0);
    assert!(empty.contains("href=\"/orders\""), "the header links here");

    let older = shipped_order(&mut orders, &alice_id).await;
    // Orders are ordered by their creation time, in milliseconds: this
    // pause gives the second one a later time, which the test then checks.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let newer = declined_order(&mut orders, &alice_id, "another-cart").await;
    let bobs = declined_order(&mut orders, &bob_id, &bob_id).await;

    let html = alice.page("/orders").await;
    assert_eq!(rows(&html), 2);
    let (at_newer, at_older) = (
        html.find(&format!("/orders/{}", newer.id)).unwrap(),
        html.find(&format!("/orders/{}", older.id)).unwrap(),
    );
    assert!(at_newer < at_older, "newest first");
    assert!(!html.contains(&bobs.id));
    assert!(!html.contains(&alice_id), "the session id is never shown");
    // The first row: declined, one item, $19.99 + $8.99 shipping.
    assert_eq!(testid(&html, "order-state"), Some("Declined"));
    assert_eq!(testid(&html, "order-total"), Some("$28.98"));
    let short = newer.id.split('-').next().unwrap();
    assert!(html.contains(&format!("#<code>{short}</code>")));
    assert!(html.contains("1 item<"));
    // The second: shipped, three items, 2 × €17.68 + €7.50 + €8.99.
    assert!(html.contains(">Shipped</span>"));
    assert!(html.contains("3 items"));
    assert!(html.contains("€51.85"));
    assert!(!html.contains("data-testid=\"more-orders\""));

    let bob_html = bob.page("/orders").await;
    assert_eq!(rows(&bob_html), 1);
    assert!(bob_html.contains(&bobs.id) && !bob_html.contains(&older.id));
}

#[tokio::test]
async fn an_order_page_shows_lines_address_total_and_timeline() {
    let shop = Shop::start().await;
    let mut orders = shop.orders().await;
    let alice = shop.browser();
    let owner = alice.session_id().await;
    let order = shipped_order(&mut orders, &owner).await;

    let html = alice.page(&format!("/orders/{}", order.id)).await;
    assert_eq!(testid(&html, "order-id"), Some(order.id.as_str()));
    assert_eq!(testid(&html, "order-state"), Some("Shipped"));
    assert_eq!(testid(&html, "tracking-id"), Some("AB-44000-220000000"));
    assert_eq!(testid(&html, "total"), Some("€51.85"));
    assert_eq!(testid(&html, "shipping"), Some("€8.99"));
    // Names and pictures from the catalog; each line's unit cost × quantity.
    assert!(html.contains("Sunglasses") && html.contains("SKU #OLJCESPC7Z"));
    assert!(html.contains("/static/img/products/sunglasses.jpg"));
    assert!(html.contains("€35.36") && html.contains("€7.50"));
    assert!(
        html.contains("1600 Amphitheatre Parkway<br>Mountain View, CA, 94043<br>United States")
    );
    assert!(html.contains("confirmation email not sent"), "warnings");
    assert!(!html.contains(&owner), "the session id is never shown");

    // The timeline: every state the order reached, oldest first, in UTC.
    let timeline = &html[html.find("data-testid=\"timeline\"").unwrap()..];
    let states: Vec<&str> = ["Placed", "Charged", "Shipped"]
        .into_iter()
        .filter(|state| timeline.contains(&format!(">{state}</span>")))
        .collect();
    assert_eq!(states, ["Placed", "Charged", "Shipped"]);
    assert!(
        timeline.find(">Placed<").unwrap() < timeline.find(">Charged<").unwrap()
            && timeline.find(">Charged<").unwrap() < timeline.find(">Shipped<").unwrap()
    );
    assert_eq!(timeline.matches(" UTC</time>").count(), 3);
    assert_eq!(timeline.matches("<time datetime=\"").count(), 3);

    // A declined order's timeline carries the reason as its note.
    let declined = declined_order(&mut orders, &owner, "another-cart").await;
    let html = alice.page(&format!("/orders/{}", declined.id)).await;
    assert_eq!(testid(&html, "order-state"), Some("Declined"));
    assert!(html.contains("<p class=\"timeline-note\">The card was declined</p>"));
    assert_eq!(testid(&html, "tracking-id"), Some("Not shipped yet"));
}

#[tokio::test]
async fn the_product_names_are_a_nicety_when_the_catalog_is_down() {
    let mut shop = Shop::start_with(&[("CACHE_TTL", "0")]).await;
    let mut orders = shop.orders().await;
    let alice = shop.browser();
    let order = shipped_order(&mut orders, &alice.session_id().await).await;
    shop.stop(crate::helpers::Svc::Catalog).await;
    let html = alice.page(&format!("/orders/{}", order.id)).await;
    assert!(html.contains("SKU #OLJCESPC7Z") && !html.contains("Sunglasses"));
    assert_eq!(testid(&html, "total"), Some("€51.85"));
}

#[tokio::test]
async fn another_sessions_order_is_a_404_like_an_unknown_one() {
    let shop = Shop::start().await;
    let mut orders = shop.orders().await;
    let alice = shop.browser();
    let mallory = shop.browser();
    let order = shipped_order(&mut orders, &alice.session_id().await).await;
    mallory.session_id().await;

    let unknown = "0b6f5a8e-4f38-4c43-9d3f-2f0f2f7b9a11";
    for id in [order.id.as_str(), unknown, "nope", "..%2F..%2Fetc", "%ff"] {
        let response = mallory.get(&format!("/orders/{id}")).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{id}");
        let html = response.text().await.unwrap();
        assert!(html.contains("find that page"), "{id}");
        assert!(
            !html.contains("Sunglasses") && !html.contains("AB-44000"),
            "{id}"
        );
        let problem = expect_problem(
            &mallory,
            &format!("/api/v1/orders/{id}"),
            StatusCode::NOT_FOUND,
        )
        .await;
        assert_eq!(problem["code"], "NOT_FOUND");
    }
    // The owner still sees it, however the id is cased.
    alice
        .page(&format!("/orders/{}", order.id.to_uppercase()))
        .await;
    let (status, _, _) = get_json(&alice, &format!("/api/v1/orders/{}", order.id)).await;
    assert_eq!(status, StatusCode::OK);
    // Nor does anyone else's list show it.
    let (_, _, listed) = get_json(&mallory, "/api/v1/orders").await;
    assert_eq!(listed["orders"], serde_json::json!([]));
}

#[tokio::test]
async fn the_api_answers_orders_as_json() {
    let shop = Shop::start().await;
    let mut orders = shop.orders().await;
    let alice = shop.browser();
    let owner = alice.session_id().await;
    let order = shipped_order(&mut orders, &owner).await;

    let path = format!("/api/v1/orders/{}", order.id);
    let response = alice.get(&path).await;
    let body = response.text().await.unwrap();
    assert!(
        !body.contains(&owner),
        "the session id is never shown: {body}"
    );
    let (status, content_type, json) = get_json(&alice, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/json");
    assert_eq!(json["id"], order.id);
    assert_eq!(json["state"], "shipped");
    assert_eq!(json["tracking_id"], "AB-44000-220000000");
    assert_eq!(json["transaction_id"], "txn-0001");
    assert_eq!(
        json["items"],
        serde_json::json!([
            {"product_id": "OLJCESPC7Z", "quantity": 2, "unit_cost":
                {"currency_code": "EUR", "units": 17, "nanos": 680_000_000, "display": "€17.68"}},
            {"product_id": "6E92ZMYYFZ", "quantity": 1, "unit_cost":
                {"currency_code": "EUR", "units": 7, "nanos": 500_000_000, "display": "€7.50"}},
        ])
    );
    assert_eq!(
        json["total"],
        serde_json::json!({"currency_code": "EUR", "units": 51, "nanos": 850_000_000, "display": "€51.85"})
    );
    assert_eq!(json["shipping_cost"]["display"], "€8.99");
    assert_eq!(
        json["shipping_address"],
        serde_json::json!({
            "street_address": "1600 Amphitheatre Parkway",
            "city": "Mountain View",
            "state": "CA",
            "country": "United States",
            "zip_code": 94043,
        })
    );
    assert_eq!(
        json["warnings"],
        serde_json::json!(["confirmation email not sent"])
    );
    let history = json["history"].as_array().unwrap();
    let states: Vec<&str> = history
        .iter()
        .map(|h| h["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["created", "charged", "shipped"]);
    for moment in history
        .iter()
        .map(|h| &h["at"])
        .chain([&json["created_at"], &json["updated_at"]])
    {
        assert!(is_rfc3339_utc(moment.as_str().unwrap()), "{moment}");
    }
    assert!(history.iter().all(|h| h["note"].is_null()));

    // Empty ids are null, notes are kept, and no amount is ever a float.
    let declined = declined_order(&mut orders, &owner, "another-cart").await;
    let (_, _, json) = get_json(&alice, &format!("/api/v1/orders/{}", declined.id)).await;
    assert_eq!(json["state"], "declined");
    assert!(json["tracking_id"].is_null() && json["transaction_id"].is_null());
    assert_eq!(json["history"][1]["note"], "The card was declined");
    assert!(json["total"]["units"].is_i64() && json["total"]["nanos"].is_i64());

    // The list holds the same documents, newest first.
    let (_, _, listed) = get_json(&alice, "/api/v1/orders").await;
    let ids: Vec<&str> = listed["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&order.id.as_str()) && ids.contains(&declined.id.as_str()));
    assert!(listed["next_page_token"].is_null());
}

/// `2025-03-04T14:05:09.120Z`.
fn is_rfc3339_utc(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 24
        && bytes.iter().enumerate().all(|(at, b)| match at {
            4 | 7 => *b == b'-',
            10 => *b == b'T',
            13 | 16 => *b == b':',
            19 => *b == b'.',
            23 => *b == b'Z',
            _ => b.is_ascii_digit(),
        })
}

#[tokio::test]
async fn the_bare_list_is_an_array() {
    let shop = Shop::start().await;
    let mut orders = shop.orders().await;
    let alice = shop.browser();
    let owner = alice.session_id().await;
    let (_, content_type, empty) = get_json(&alice, "/api/orders").await;
    assert_eq!(content_type, "application/json");
    assert_eq!(empty, serde_json::json!([]));

    for cart in 0..3 {
        declined_order(&mut orders, &owner, &format!("cart-{cart}")).await;
    }
    let (status, _, all) = get_json(&alice, "/api/orders").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(all.as_array().unwrap().len(), 3);
    assert_eq!(all[0]["state"], "declined");

    // The next page, when there is one, is in the Link header.
    let first = alice.get("/api/orders?page_size=2").await;
    let link = first.headers()[header::LINK].to_str().unwrap().to_owned();
    let page: Value = serde_json::from_str(&first.text().await.unwrap()).unwrap();
    assert_eq!(page.as_array().unwrap().len(), 2);
    let next = link
        .strip_prefix('<')
        .and_then(|rest| rest.strip_suffix(">; rel=\"next\""))
        .unwrap_or_else(|| panic!("{link}"));
    assert!(
        next.starts_with("/api/orders?page_size=2&page_token="),
        "{next}"
    );
    let second = alice.get(next).await;
    assert!(second.headers().get(header::LINK).is_none());
    let rest: Value = serde_json::from_str(&second.text().await.unwrap()).unwrap();
    assert_eq!(rest.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn pages_follow_page_tokens() {
    let shop = Shop::start().await;
    let mut orders = shop.orders().await;
    let alice = shop.browser();
    let owner = alice.session_id().await;
    let mut made = Vec::new();
    for cart in 0..25 {
        made.push(
            declined_order(&mut orders, &owner, &format!("cart-{cart}"))
                .await
                .id,
        );
    }

    // The pages: 20, then the other 5, and no link after that.
    let first = alice.page("/orders").await;
    assert_eq!(rows(&first), 20);
    let more = first
        .split("rel=\"next\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a More orders link")
        .replace("&amp;", "&");
    assert!(more.starts_with("/orders?page_token="), "{more}");
    let second = alice.page(&more).await;
    assert_eq!(rows(&second), 5);
    assert!(!second.contains("data-testid=\"more-orders\""));
    // Every order on exactly one of the pages.
    assert!(
        made.iter()
            .all(|id| first.contains(id) != second.contains(id))
    );

    // The API: pages of 10 by token, all 25 orders once each.
    let mut ids = Vec::new();
    let mut token = String::new();
    for _ in 0..3 {
        let path = format!("/api/v1/orders?page_size=10&page_token={token}");
        let (status, _, page) = get_json(&alice, &path).await;
        assert_eq!(status, StatusCode::OK);
        for order in page["orders"].as_array().unwrap() {
            ids.push(order["id"].as_str().unwrap().to_owned());
        }
        match page["next_page_token"].as_str() {
            Some(next) => token = percent_encode(next),
            None => break,
        }
    }
    assert_eq!(ids.len(), 25);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 25);

    // Client mistakes are 400s, as pages and as problems.
    for query in [
        "page_size=0",
        "page_size=101",
        "page_size=ten",
        "page_token=a%20b",
    ] {
        let problem = expect_problem(
            &alice,
            &format!("/api/v1/orders?{query}"),
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert!(
            problem["detail"].as_str().unwrap().contains("page_"),
            "{problem}"
        );
    }
    // A token of the right characters that the orders service did not give out.
    let problem = expect_problem(
        &alice,
        "/api/v1/orders?page_token=garbage",
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(problem["detail"].as_str().unwrap().contains("page_token"));
    expect_problem(
        &alice,
        "/api/orders?page_token=garbage",
        StatusCode::BAD_REQUEST,
    )
    .await;
    let page = alice.get("/orders?page_token=garbage").await;
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    let html = page.text().await.unwrap();
    assert!(html.contains("That link doesn&#39;t look right"), "{html}");
    assert!(html.contains("page_token"));
    // An unknown API path is a problem too, not a page.
    expect_problem(&alice, "/api/v1/nothing", StatusCode::NOT_FOUND).await;
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn the_confirmation_links_to_the_orders_page() {
    let shop = Shop::start().await;
    let browser = shop.browser();
    browser.add_to_cart("OLJCESPC7Z", 1).await;
    let form = checkout_form("4432801561520454", this_year() + 1);
    let response = browser.post("/cart/checkout", &as_pairs(&form)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    let order_id = testid(&html, "order-id").unwrap();
    assert!(
        html.contains(&format!(
            "href=\"/orders/{order_id}\" data-testid=\"order-link\""
        )),
        "{html}"
    );
}

#[tokio::test]
async fn order_routes_live_under_base_url() {
    let shop = Shop::start_with(&[("BASE_URL", "/shop")]).await;
    let mut orders = shop.orders().await;
    let alice = shop.browser();
    let order = shipped_order(&mut orders, &alice.session_id().await).await;
    let html = alice.page("/orders").await;
    assert!(html.contains(&format!("href=\"/shop/orders/{}\"", order.id)));
    assert!(html.contains("href=\"/shop/orders\""));
    alice.page(&format!("/orders/{}", order.id)).await;
    let (status, _, listed) = get_json(&alice, "/api/orders").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed[0]["id"], order.id);
    expect_problem(&alice, "/api/v1/orders/nope", StatusCode::NOT_FOUND).await;
}
