//! A shopper's whole visit: browse, switch currency, fill the cart, check out.

use reqwest::StatusCode;

use crate::helpers::{
    Shop, as_pairs, checkout_form, price_text, rounded, testid, this_year, usd_to,
};

const SUNGLASSES: (&str, i128) = ("OLJCESPC7Z", 19_990_000_000);
const MUG: (&str, i128) = ("6E92ZMYYFZ", 8_990_000_000);
const SHIPPING_USD: i128 = 8_990_000_000;

#[tokio::test]
async fn home_lists_every_product_in_dollars() {
    let shop = Shop::start().await;
    let html = shop.browser().page("/").await;
    assert!(html.contains("Hot Products"));
    for name in [
        "Sunglasses",
        "Tank Top",
        "Watch",
        "Loafers",
        "Hairdryer",
        "Candle Holder",
        "Salt &#38; Pepper Shakers",
        "Bamboo Glass Jar",
        "Mug",
    ] {
        assert!(html.contains(name), "{name} missing");
    }
    for price in ["$19.99", "$109.99", "$5.49", "$18.49"] {
        assert!(html.contains(price), "{price} missing");
    }
    assert_eq!(testid(&html, "cart-size"), Some("0"));
    assert!(html.contains("href=\"/product/OLJCESPC7Z\""));
    // The switcher offers upstream's whitelist in the service's order.
    let options: Vec<&str> = html
        .split("<option value=\"")
        .skip(1)
        .map(|rest| &rest[..3])
        .collect();
    assert_eq!(options, ["EUR", "USD", "JPY", "GBP", "TRY", "CAD"]);
}

#[tokio::test]
async fn product_page_shows_the_product_and_a_form() {
    let shop = Shop::start().await;
    // With its ad: accessories have a watch ad.
    let html = shop.browser().product_page("1YMWWN1N4O").await;
    assert!(html.contains("<h1>Watch</h1>"));
    assert!(html.contains("$109.99"));
    assert!(html.contains("src=\"/static/img/products/watch.jpg\""));
    assert!(html.contains("name=\"product_id\" value=\"1YMWWN1N4O\""));
    for quantity in [1, 2, 3, 4, 5, 10] {
        assert!(html.contains(&format!("<option value=\"{quantity}\">{quantity}</option>")));
    }
    assert!(!html.contains("<option value=\"6\">"));
    assert!(html.contains("Add To Cart"));
    assert!(html.contains("You May Also Like"));
    let recommended = html.matches("class=\"product-card\"").count();
    assert!(
        (1..=4).contains(&recommended),
        "{recommended} recommendations"
    );
}

#[tokio::test]
async fn currencies_change_every_price() {
    let shop = Shop::start().await;
    let browser = shop.browser();
    for code in ["EUR", "JPY", "GBP", "TRY", "CAD", "USD"] {
        browser.set_currency(code).await;
        let html = browser.page("/").await;
        let expected = price_text(code, usd_to(SUNGLASSES.1, code));
        assert!(html.contains(&expected), "{code}: {expected} missing");
        assert!(
            html.contains(&format!("value=\"{code}\" selected")),
            "{code} not selected"
        );
    }
    // EUR 17/682441398 -> €17.68, as upstream; yen have no decimals.
    assert_eq!(price_text("EUR", usd_to(SUNGLASSES.1, "EUR")), "€17.68");
    assert_eq!(price_text("JPY", usd_to(SUNGLASSES.1, "JPY")), "¥2235");
    browser.set_currency("JPY").await;
    let html = browser.page("/product/OLJCESPC7Z").await;
    assert!(html.contains(">¥2235<"), "{html}");
    assert!(!html.contains("¥2235."), "{html}");
}

#[tokio::test]
async fn set_currency_returns_to_the_referring_page() {
    let shop = Shop::start().await;
    let browser = shop.browser();
    let referer = format!("{}/product/OLJCESPC7Z", shop.url);
    let response = browser
        .client
        .post(format!("{}/setCurrency", shop.url))
        .header("referer", referer)
        .form(&[("currency_code", "GBP")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(response.headers()["location"], "/product/OLJCESPC7Z");
    let foreign = browser
        .client
        .post(format!("{}/setCurrency", shop.url))
        .header("referer", "https://evil.example/phish")
        .form(&[("currency_code", "GBP")])
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.headers()["location"], "/");
    let html = browser.page("/product/OLJCESPC7Z").await;
    assert!(html.contains(&price_text("GBP", usd_to(SUNGLASSES.1, "GBP"))));
}

#[tokio::test]
async fn cart_and_checkout_add_up_in_the_chosen_currency() {
    let shop = Shop::start().await;
    let browser = shop.browser();
    browser.page("/").await;
    browser.set_currency("EUR").await;

    let response = browser
        .post("/cart", &[("product_id", SUNGLASSES.0), ("quantity", "2")])
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(response.headers()["location"], "/cart");
    browser.add_to_cart(MUG.0, 3).await;
    browser.add_to_cart(SUNGLASSES.0, 1).await;

    let home = browser.page("/").await;
    assert_eq!(testid(&home, "cart-size"), Some("6"));

    // Checkout's rule: each converted price rounded to the cent once, then
    // exact. So the lines shown add up to the total shown, which is charged.
    let sunglasses_line = 3 * rounded("EUR", usd_to(SUNGLASSES.1, "EUR"));
    let mug_line = 3 * rounded("EUR", usd_to(MUG.1, "EUR"));
    let shipping = rounded("EUR", usd_to(SHIPPING_USD, "EUR"));
    let total = sunglasses_line + mug_line + shipping;

    let cart = browser.page("/cart").await;
    assert!(cart.contains("Cart (6)"));
    assert!(cart.contains("SKU #OLJCESPC7Z"));
    assert!(cart.contains("Quantity: 3"));
    assert!(cart.contains(&price_text("EUR", sunglasses_line)));
    assert!(cart.contains(&price_text("EUR", mug_line)));
    assert_eq!(
        testid(&cart, "shipping"),
        Some(price_text("EUR", shipping).as_str())
    );
    assert_eq!(
        testid(&cart, "total"),
        Some(price_text("EUR", total).as_str())
    );
    // The form is prefilled like upstream's, expiry next year.
    assert!(cart.contains("value=\"someone@example.com\""));
    assert!(cart.contains("value=\"4432801561520454\""));
    let next_year = this_year() + 1;
    assert!(cart.contains(&format!("<option value=\"{next_year}\" selected>")));
    assert!(cart.contains(&format!("<option value=\"{}\">", this_year())));
    assert!(cart.contains(&format!("<option value=\"{}\">", this_year() + 4)));
    assert!(!cart.contains(&format!("<option value=\"{}\">", this_year() + 5)));
    assert!(cart.contains("<option value=\"12\">December</option>"));

    let form = checkout_form("4432801561520454", next_year);
    let response = browser.post("/cart/checkout", &as_pairs(&form)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let order = response.text().await.unwrap();
    assert!(order.contains("Your order is complete!"));
    let order_id = testid(&order, "order-id").unwrap();
    assert_eq!(order_id.len(), 36, "{order_id}");
    assert!(uuid_like(order_id), "{order_id}");
    let tracking = testid(&order, "tracking-id").unwrap();
    assert!(tracking_like(tracking), "{tracking}");
    assert_eq!(
        testid(&order, "total"),
        Some(price_text("EUR", total).as_str())
    );
    assert_eq!(
        testid(&order, "shipping"),
        Some(price_text("EUR", shipping).as_str())
    );
    assert!(order.contains("Continue Shopping"));
    // No currency switcher on the order page, as upstream.
    assert!(!order.contains("name=\"currency_code\""));

    let cart = browser.page("/cart").await;
    assert!(cart.contains("Your shopping cart is empty!"));
}

#[tokio::test]
async fn a_declined_card_keeps_the_cart_and_says_why() {
    let shop = Shop::start().await;
    let browser = shop.browser();
    browser.add_to_cart(MUG.0, 1).await;
    let amex = checkout_form("378282246310005", this_year() + 1);
    let response = browser.post("/cart/checkout", &as_pairs(&amex)).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(html.contains("role=\"alert\""));
    assert!(html.contains("cannot process"), "{html}");
    assert!(html.contains("SKU #6E92ZMYYFZ"), "cart not shown");
    // The card number is not echoed back into the page.
    assert!(!html.contains("378282246310005"));
    let cart = browser.page("/cart").await;
    assert!(cart.contains("SKU #6E92ZMYYFZ"), "cart lost");
}

#[tokio::test]
async fn an_expired_card_keeps_the_cart_and_says_why() {
    let shop = Shop::start().await;
    let browser = shop.browser();
    browser.add_to_cart(SUNGLASSES.0, 1).await;
    let expired = checkout_form("4432801561520454", this_year() - 1);
    let response = browser.post("/cart/checkout", &as_pairs(&expired)).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(html.contains("expired on"), "{html}");
    let cart = browser.page("/cart").await;
    assert!(cart.contains("SKU #OLJCESPC7Z"));
}

#[tokio::test]
async fn empty_cart_empties_and_goes_home() {
    let shop = Shop::start().await;
    let browser = shop.browser();
    browser.add_to_cart(MUG.0, 2).await;
    let response = browser.post("/cart/empty", &[]).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(response.headers()["location"], "/");
    let cart = browser.page("/cart").await;
    assert!(cart.contains("Your shopping cart is empty!"));
    assert_eq!(testid(&cart, "cart-size"), Some("0"));
}

fn uuid_like(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(idx, c)| {
            if [8, 13, 18, 23].contains(&idx) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

/// Upstream's shape: two capitals, a dash, digits, a dash, digits.
fn tracking_like(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() == 3
        && parts[0].len() == 2
        && parts[0].bytes().all(|b| b.is_ascii_uppercase())
        && parts[1..]
            .iter()
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
}

#[tokio::test]
async fn a_resubmitted_checkout_form_is_the_same_order() {
    let shop = Shop::start().await;
    let browser = shop.browser();
    browser.add_to_cart(MUG.0, 2).await;
    let cart = browser.page("/cart").await;
    // The form carries a key of its own: the same form posted again (a double
    // click, a browser retry, a replayed POST) is the same order.
    let marker = "name=\"order_key\" value=\"";
    let start = cart.find(marker).expect("the form has an order key") + marker.len();
    let key = cart[start..start + 36].to_owned();
    assert!(uuid_like(&key), "{key}");
    let mut form = checkout_form("4432801561520454", this_year() + 1);
    form.push(("order_key", key.clone()));
    let first = browser.post("/cart/checkout", &as_pairs(&form)).await;
    assert_eq!(first.status(), StatusCode::OK);
    let first = first.text().await.unwrap();
    let order_id = testid(&first, "order-id").unwrap().to_owned();

    // Even with something new in the cart, the old form replays its order
    // and charges nothing: without the key this would be a second order.
    browser.add_to_cart(MUG.0, 1).await;
    let again = browser.post("/cart/checkout", &as_pairs(&form)).await;
    assert_eq!(again.status(), StatusCode::OK);
    let again = again.text().await.unwrap();
    assert_eq!(testid(&again, "order-id"), Some(order_id.as_str()));
    let cart = browser.page("/cart").await;
    assert!(
        !cart.contains("Your shopping cart is empty!"),
        "not charged again"
    );
    // The new form has a new key.
    assert!(!cart.contains(&key));

    // A forged key is refused like any invalid field.
    let mut forged = checkout_form("4432801561520454", this_year() + 1);
    forged.push(("order_key", "not-a-key".to_owned()));
    let response = browser.post("/cart/checkout", &as_pairs(&forged)).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
}
