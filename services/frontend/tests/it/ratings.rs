//! Ratings on the product pages, over the real ratings service: the summary
//! and reviews, the form for signed-in shoppers (rate, update, delete), its
//! refusals, review text escaped, and the page without the ratings service.

use reqwest::{StatusCode, header};

use crate::helpers::{Shop, Svc, testid};

const PRODUCT: &str = "OLJCESPC7Z";

#[tokio::test]
async fn a_signed_in_shopper_rates_updates_and_deletes() {
    let shop = Shop::start().await;
    let browser = shop.browser();
    let page = browser.product_page(PRODUCT).await;
    assert!(page.contains("data-testid=\"no-ratings\""));
    assert!(
        page.contains("data-testid=\"sign-in-to-rate\""),
        "a guest is asked to sign in"
    );
    assert!(!page.contains("class=\"rating-form\""));
    // A guest's post goes to sign in, and comes back here.
    let response = browser
        .post(&format!("/product/{PRODUCT}/rating"), &[("stars", "5")])
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(
        response.headers()[header::LOCATION],
        format!("/signin?next=%2Fproduct%2F{PRODUCT}").as_str()
    );

    browser.new_account().await;
    let page = browser.product_page(PRODUCT).await;
    assert!(page.contains("class=\"rating-form\""));
    let response = browser
        .post(
            &format!("/product/{PRODUCT}/rating"),
            &[("stars", "4"), ("text", "Sturdy.\r\nLight, too.")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(
        response.headers()[header::LOCATION],
        format!("/product/{PRODUCT}#reviews").as_str()
    );
    let page = browser.product_page(PRODUCT).await;
    assert_eq!(testid(&page, "rating-average"), Some("4.0"));
    assert_eq!(testid(&page, "rating-count"), Some("1"));
    assert_eq!(testid(&page, "review-text"), Some("Sturdy.\nLight, too."));
    assert!(page.contains("Your review"));
    assert!(page.contains("Update your rating"));
    assert!(
        page.contains("value=\"4\" checked"),
        "the form holds the shopper's stars"
    );

    // Another shopper's rating moves the average.
    let other = shop.browser();
    other.new_account().await;
    other
        .post(&format!("/product/{PRODUCT}/rating"), &[("stars", "5")])
        .await;
    let page = other.product_page(PRODUCT).await;
    assert_eq!(testid(&page, "rating-average"), Some("4.5"));
    assert_eq!(testid(&page, "rating-count"), Some("2"));

    // Update, then delete.
    browser
        .post(&format!("/product/{PRODUCT}/rating"), &[("stars", "1")])
        .await;
    let page = browser.product_page(PRODUCT).await;
    assert_eq!(testid(&page, "rating-average"), Some("3.0"));
    let response = browser
        .post(&format!("/product/{PRODUCT}/rating/delete"), &[])
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let page = browser.product_page(PRODUCT).await;
    assert_eq!(testid(&page, "rating-average"), Some("5.0"));
    assert_eq!(testid(&page, "rating-count"), Some("1"));
    assert!(page.contains("Rate this product"));
    shop.stop_frontend().await;
}

#[tokio::test]
async fn review_text_with_markup_is_escaped() {
    let shop = Shop::start().await;
    let browser = shop.browser();
    browser.new_account().await;
    let markup = "<script>alert('x')</script> & <b>bold</b> \"quoted\"";
    let response = browser
        .post(
            &format!("/product/{PRODUCT}/rating"),
            &[("stars", "3"), ("text", markup)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    for viewer in [browser, shop.browser()] {
        let page = viewer.product_page(PRODUCT).await;
        assert!(!page.contains("<script>alert"), "markup is never live");
        assert!(!page.contains("<b>bold</b>"));
        // Askama writes numeric character references.
        assert_eq!(
            testid(&page, "review-text"),
            Some(
                "&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62; &#38; \
                 &#60;b&#62;bold&#60;/b&#62; &#34;quoted&#34;"
            )
        );
    }
    shop.stop_frontend().await;
}

#[tokio::test]
async fn bad_ratings_are_refused_with_reasons() {
    let shop = Shop::start_with(&[]).await;
    let browser = shop.browser();
    browser.new_account().await;
    for form in [
        vec![("stars", "0")],
        vec![("stars", "6")],
        vec![("stars", "four")],
        vec![],
    ] {
        let response = browser
            .post(&format!("/product/{PRODUCT}/rating"), &form)
            .await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{form:?}"
        );
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("choose from 1 to 5 stars")
        );
    }
    let long = "x".repeat(2001);
    let response = browser
        .post(
            &format!("/product/{PRODUCT}/rating"),
            &[("stars", "3"), ("text", &long)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let response = browser
        .post("/product/NOSUCHPROD1/rating", &[("stars", "3")])
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    // Past the write limit (10 a minute): 429 with Retry-After.
    let mut limited = None;
    for _ in 0..12 {
        let response = browser
            .post(&format!("/product/{PRODUCT}/rating"), &[("stars", "2")])
            .await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(response);
            break;
        }
        assert_eq!(response.status(), StatusCode::FOUND);
    }
    let limited = limited.expect("the write limit");
    assert!(limited.headers().contains_key(header::RETRY_AFTER));
    assert!(
        limited
            .text()
            .await
            .unwrap()
            .contains("several ratings in a short time")
    );
    shop.stop_frontend().await;
}

#[tokio::test]
async fn reviews_come_a_page_at_a_time() {
    let shop = Shop::start().await;
    for stars in ["5", "4", "3", "2", "1", "5", "4"] {
        let shopper = shop.browser();
        shopper.new_account().await;
        let response = shopper
            .post(
                &format!("/product/{PRODUCT}/rating"),
                &[("stars", stars), ("text", &format!("{stars} stars"))],
            )
            .await;
        assert_eq!(response.status(), StatusCode::FOUND);
    }
    let guest = shop.browser();
    let page = guest.product_page(PRODUCT).await;
    assert_eq!(testid(&page, "rating-count"), Some("7"));
    assert_eq!(page.matches("data-testid=\"review\"").count(), 5);
    let start = page
        .find("href=\"/product/OLJCESPC7Z?reviews=")
        .expect("older reviews")
        + 6;
    let end = page[start..].find('"').unwrap() + start;
    let next = page[start..end].replace("&amp;", "&");
    let older = guest.page(next.split('#').next().unwrap()).await;
    assert_eq!(older.matches("data-testid=\"review\"").count(), 2);
    assert!(!older.contains("data-testid=\"more-reviews\""));
    // A token the ratings service did not give out is the client's mistake.
    let response = guest
        .get(&format!("/product/{PRODUCT}?reviews=not-a-token"))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    shop.stop_frontend().await;
}

#[tokio::test]
async fn the_product_page_stands_without_the_ratings_service() {
    let mut shop = Shop::start().await;
    let browser = shop.browser();
    browser.new_account().await;
    shop.stop(Svc::Ratings).await;
    let page = browser.page(&format!("/product/{PRODUCT}")).await;
    assert!(page.contains("data-testid=\"ratings-unavailable\""));
    assert!(page.contains("Add To Cart"));
    // Writing is what needs the service: 503.
    let response = browser
        .post(&format!("/product/{PRODUCT}/rating"), &[("stars", "5")])
        .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    shop.stop_frontend().await;
}
