//! Bad forms are 422 pages naming each failed field with upstream's names.

use reqwest::StatusCode;

use crate::helpers::{Shop, as_pairs, checkout_form, this_year};

async fn expect_invalid(response: reqwest::Response, fields: &[&str]) -> String {
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    for field in fields {
        assert!(
            html.contains(&format!("Field &#39;{field}&#39; is invalid"))
                || html.contains(&format!("Field '{field}' is invalid")),
            "{field} not named in {html}"
        );
    }
    html
}

#[tokio::test]
async fn add_to_cart_checks_quantity_and_product() {
    let shop = Shop::start().await;
    let browser = shop.browser();
    for quantity in ["0", "11", "abc", "-3", ""] {
        let response = browser
            .post(
                "/cart",
                &[("product_id", "OLJCESPC7Z"), ("quantity", quantity)],
            )
            .await;
        let html = expect_invalid(response, &["Quantity"]).await;
        assert!(!html.contains("ProductID"), "{quantity}");
    }
    let response = browser.post("/cart", &[("quantity", "1")]).await;
    expect_invalid(response, &["ProductID"]).await;
    let response = browser.post("/cart", &[]).await;
    expect_invalid(response, &["Quantity", "ProductID"]).await;
    // Nothing was added.
    let cart = browser.page("/cart").await;
    assert!(cart.contains("Your shopping cart is empty!"));
}

#[tokio::test]
async fn adding_an_unknown_product_is_404() {
    let shop = Shop::start().await;
    let response = shop
        .browser()
        .post("/cart", &[("product_id", "NOSUCHTHING"), ("quantity", "1")])
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn checkout_names_every_bad_field() {
    let shop = Shop::start().await;
    let browser = shop.browser();
    browser.add_to_cart("6E92ZMYYFZ", 1).await;
    let good = checkout_form("4432801561520454", this_year() + 1);

    let long_city = "x".repeat(129);
    let cases = [
        ("email", "not-an-email", "Email"),
        ("email", "", "Email"),
        ("street_address", "", "StreetAddress"),
        ("zip_code", "0", "ZipCode"),
        ("zip_code", "abc", "ZipCode"),
        ("city", long_city.as_str(), "City"),
        ("credit_card_number", "4432801561520455", "CcNumber"),
        ("credit_card_number", "1234", "CcNumber"),
        ("credit_card_expiration_month", "13", "CcMonth"),
        ("credit_card_expiration_month", "0", "CcMonth"),
        ("credit_card_expiration_year", "0", "CcYear"),
        ("credit_card_cvv", "0", "CcCVV"),
    ];
    for (name, value, field) in cases {
        let mut form = good.clone();
        for entry in &mut form {
            if entry.0 == name {
                entry.1 = value.to_owned();
            }
        }
        let response = browser.post("/cart/checkout", &as_pairs(&form)).await;
        let html = expect_invalid(response, &[field]).await;
        assert_eq!(
            html.matches("is invalid").count(),
            1,
            "{name}={value}: {html}"
        );
    }

    // Everything wrong at once: one line per field.
    let response = browser.post("/cart/checkout", &[]).await;
    let html = expect_invalid(
        response,
        &[
            "Email",
            "StreetAddress",
            "ZipCode",
            "City",
            "State",
            "Country",
            "CcNumber",
            "CcMonth",
            "CcYear",
            "CcCVV",
        ],
    )
    .await;
    assert_eq!(html.matches("is invalid").count(), 10);

    // The cart is untouched by refused checkouts.
    let cart = browser.page("/cart").await;
    assert!(cart.contains("SKU #6E92ZMYYFZ"));
}

#[tokio::test]
async fn set_currency_accepts_only_offered_codes() {
    let shop = Shop::start().await;
    let browser = shop.browser();
    for bad in ["", "ABC", "$", "CHF", "usd"] {
        let response = browser
            .post("/setCurrency", &[("currency_code", bad)])
            .await;
        let cookies = crate::helpers::set_cookies(&response);
        expect_invalid(response, &["Currency"]).await;
        assert!(
            crate::helpers::cookie_value(&cookies, "shop_currency").is_none(),
            "{bad} set a cookie"
        );
    }
}
