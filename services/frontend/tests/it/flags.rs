//! `imageSlowLoad` through a flag file: while on, product pictures arrive
//! that late and other assets do not wait; switched off, pictures are served
//! at once again.

use std::time::{Duration, Instant};

use boutique_flags::names::IMAGE_SLOW_LOAD;
use boutique_testkit::{eventually, flags::FlagFile};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::Shop;

const PICTURE: &str = "/static/img/products/mug.jpg";

/// Whether `path` arrives (200) within `wait`; a timeout is the other answer.
async fn within(shop: &Shop, path: &str, wait: Duration) -> bool {
    let client = reqwest::Client::builder().timeout(wait).build().unwrap();
    match client.get(format!("{}{path}", shop.url)).send().await {
        Ok(response) => {
            assert_eq!(response.status(), StatusCode::OK, "GET {path}");
            true
        }
        Err(error) if error.is_timeout() => false,
        Err(error) => panic!("GET {path}: {error}"),
    }
}

#[tokio::test]
async fn image_slow_load_holds_pictures_back_until_switched_off() {
    let file = FlagFile::with(&[(IMAGE_SLOW_LOAD, json!(300))]);
    let env = file.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let shop = Shop::start_with(&env).await;
    let browser = shop.browser();

    // The picture arrives, that late (once the flag file is read: the
    // shop reads it in the background as it starts).
    eventually("the 300 ms setting", Duration::from_secs(10), || async {
        let started = Instant::now();
        assert_eq!(browser.get(PICTURE).await.status(), StatusCode::OK);
        (started.elapsed() >= Duration::from_millis(300)).then_some(())
    })
    .await;

    // The demo's 5 s takes effect live: the picture does not come within a
    // second; the page and the other assets come while a picture is held.
    file.set(&[(IMAGE_SLOW_LOAD, json!(5000))]);
    eventually("the 5 s setting", Duration::from_secs(10), || async {
        (!within(&shop, PICTURE, Duration::from_secs(1)).await).then_some(())
    })
    .await;
    let held = tokio::spawn({
        let url = format!("{}{PICTURE}", shop.url);
        async move { reqwest::get(url).await.map(|response| response.status()) }
    });
    assert_eq!(
        browser.get("/static/styles.css").await.status(),
        StatusCode::OK
    );
    assert_eq!(browser.get("/").await.status(), StatusCode::OK);
    assert!(!held.is_finished(), "the page came after the held picture");
    assert_eq!(held.await.unwrap().unwrap(), StatusCode::OK);

    // Off: the picture comes within the second again.
    file.set(&[(IMAGE_SLOW_LOAD, json!(0))]);
    eventually(
        "pictures without delay",
        Duration::from_secs(10),
        || async {
            within(&shop, PICTURE, Duration::from_secs(1))
                .await
                .then_some(())
        },
    )
    .await;
    shop.stop_frontend().await;
}
