//! Snapshots of the rendered pages, with ids, years and the random parts
//! (recommendations, ads) normalised away so that only markup changes show.

use reqwest::StatusCode;

use crate::{
    helpers::{Shop, Svc, as_pairs, checkout_form, this_year},
    orders::{declined_order, shipped_order},
};

/// Replaces what differs between runs with stable placeholders.
fn normalise(html: &str) -> String {
    let mut text = cut_between(
        html,
        "<section class=\"recommendations\"",
        "</section>",
        "[recommendations]",
    );
    text = cut_between(&text, "<aside class=\"ad\"", "</aside>", "[ad]");
    text = replace_uuids(&text);
    text = replace_session_tag(&text);
    text = replace_tracking_ids(&text);
    text = replace_between(&text, " datetime=\"", "</time>", "[time]\">[time]");
    text = replace_between(&text, "#<code>", "</code>", "[short-id]");
    text = replace_between(&text, "aria-label=\"Order ", "\"", "[order]");
    let year = this_year();
    for offset in (0..=5).rev() {
        text = text.replace(&(year + offset).to_string(), &format!("[year+{offset}]"));
    }
    text.replace(&(year - 1).to_string(), "[year-1]")
}

/// Every text between `start` and `end` (both kept) replaced by `placeholder`.
fn replace_between(text: &str, start: &str, end: &str, placeholder: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(start) {
        let from = at + start.len();
        let Some(len) = rest[from..].find(end) else {
            break;
        };
        out.push_str(&rest[..from]);
        out.push_str(placeholder);
        rest = &rest[from + len..];
    }
    out.push_str(rest);
    out
}

fn cut_between(text: &str, start: &str, end: &str, placeholder: &str) -> String {
    let Some(from) = text.find(start) else {
        return text.to_owned();
    };
    let Some(len) = text[from..].find(end) else {
        return text.to_owned();
    };
    format!(
        "{}{placeholder}{}",
        &text[..from],
        &text[from + len + end.len()..]
    )
}

fn replace_uuids(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut idx = 0;
    while idx < text.len() {
        if idx + 36 <= bytes.len() && is_uuid(&bytes[idx..idx + 36]) {
            out.push_str("[uuid]");
            idx += 36;
        } else {
            let ch = text[idx..].chars().next().unwrap();
            out.push(ch);
            idx += ch.len_utf8();
        }
    }
    out
}

fn is_uuid(bytes: &[u8]) -> bool {
    bytes.iter().enumerate().all(|(idx, b)| {
        if [8, 13, 18, 23].contains(&idx) {
            *b == b'-'
        } else {
            b.is_ascii_hexdigit()
        }
    })
}

/// The footer's session tag (12 hex digits, different for every session).
fn replace_session_tag(text: &str) -> String {
    let marker = "session: <code>";
    match text.find(marker) {
        Some(at) => {
            let start = at + marker.len();
            let end = start + text[start..].find('<').unwrap();
            assert_eq!(end - start, 12, "a session tag is 12 hex digits");
            format!("{}[session-tag]{}", &text[..start], &text[end..])
        }
        None => text.to_owned(),
    }
}

fn replace_tracking_ids(text: &str) -> String {
    let marker = "data-testid=\"tracking-id\">";
    match text.find(marker) {
        Some(at) => {
            let start = at + marker.len();
            let end = start + text[start..].find('<').unwrap();
            format!("{}[tracking]{}", &text[..start], &text[end..])
        }
        None => text.to_owned(),
    }
}

#[tokio::test]
async fn pages_look_as_expected() {
    let mut shop =
        Shop::start_with(&[("FRONTEND_MESSAGE", "Spring sale: 10% off everything")]).await;
    let browser = shop.browser();

    insta::assert_snapshot!("home", normalise(&browser.page("/").await));
    insta::assert_snapshot!(
        "product",
        normalise(&browser.product_page("OLJCESPC7Z").await)
    );
    insta::assert_snapshot!("cart_empty", normalise(&browser.page("/cart").await));

    browser.set_currency("EUR").await;
    browser.add_to_cart("OLJCESPC7Z", 2).await;
    browser.add_to_cart("6E92ZMYYFZ", 1).await;
    insta::assert_snapshot!("cart", normalise(&browser.page("/cart").await));

    let form = checkout_form("4432801561520454", this_year() + 1);
    let order = browser.post("/cart/checkout", &as_pairs(&form)).await;
    assert_eq!(order.status(), StatusCode::OK);
    insta::assert_snapshot!("order", normalise(&order.text().await.unwrap()));

    // A shopper's orders, made directly in the orders service (as checkout will).
    let mut orders = shop.orders().await;
    let shopper = shop.browser();
    let owner = shopper.session_id().await;
    insta::assert_snapshot!("orders_empty", normalise(&shopper.page("/orders").await));
    let shipped = shipped_order(&mut orders, &owner).await;
    declined_order(&mut orders, &owner, "another-cart").await;
    insta::assert_snapshot!("orders", normalise(&shopper.page("/orders").await));
    insta::assert_snapshot!(
        "order_detail",
        normalise(&shopper.page(&format!("/orders/{}", shipped.id)).await)
    );

    let missing = browser.get("/product/NOSUCHTHING").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    insta::assert_snapshot!("not_found", normalise(&missing.text().await.unwrap()));

    let invalid = browser
        .post("/cart", &[("product_id", "OLJCESPC7Z"), ("quantity", "11")])
        .await;
    assert_eq!(invalid.status(), StatusCode::UNPROCESSABLE_ENTITY);
    insta::assert_snapshot!("invalid", normalise(&invalid.text().await.unwrap()));

    // Accounts and ratings: the sign-in page, the account page, a rated product.
    let member = shop.browser();
    insta::assert_snapshot!(
        "signin",
        normalise(&member.page("/signin?next=/cart").await)
    );
    let signed_up = member
        .post(
            "/signup",
            &[
                ("email", "snap@example.com"),
                ("display_name", "Snap <Shot>"),
                ("password", "plum tart at noon"),
            ],
        )
        .await;
    assert_eq!(signed_up.status(), StatusCode::FOUND);
    let account = replace_between(
        &member.page("/account").await,
        "<dt>Member since</dt><dd>",
        "</dd>",
        "[date]",
    );
    insta::assert_snapshot!("account", normalise(&account));
    let rated = member
        .post(
            "/product/OLJCESPC7Z/rating",
            &[
                ("stars", "4"),
                ("text", "Good <b>value</b>.\nWould buy again."),
            ],
        )
        .await;
    assert_eq!(rated.status(), StatusCode::FOUND);
    insta::assert_snapshot!(
        "product_rated",
        normalise(&member.product_page("OLJCESPC7Z").await)
    );

    // The cart page needs the cart service (the home page does without).
    shop.stop(Svc::Cart).await;
    let down = browser.get("/cart").await;
    assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
    insta::assert_snapshot!("unavailable", normalise(&down.text().await.unwrap()));
}
