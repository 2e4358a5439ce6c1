//! Ads by category, in key order, and the random fallback.

use std::collections::HashSet;

use boutique_ad::{INVENTORY, MAX_CONTEXT_KEYS};
use boutique_proto::{Ad, AdRequest};
use tonic::Code;

use crate::helpers::spawn_app;

fn urls(ads: &[Ad]) -> Vec<&str> {
    ads.iter().map(|ad| ad.redirect_url.as_str()).collect()
}

/// Every ad the service can return, by URL.
fn known_urls() -> HashSet<String> {
    INVENTORY
        .iter()
        .map(|entry| format!("/product/{}", entry.product_id))
        .collect()
}

#[tokio::test]
async fn each_category_selects_its_products() {
    let mut app = spawn_app().await;
    let cases: [(&str, &[&str]); 6] = [
        ("clothing", &["/product/66VCHSJNUP"]),
        ("accessories", &["/product/1YMWWN1N4O"]),
        ("footwear", &["/product/L9ECAV7KIM"]),
        ("hair", &["/product/2ZYFJ3GM2N"]),
        ("decor", &["/product/0PUK6V6EV0"]),
        ("kitchen", &["/product/9SIQT8TOJO", "/product/6E92ZMYYFZ"]),
    ];
    for (key, expected) in cases {
        let ads = app.ads(&[key]).await;
        assert_eq!(urls(&ads), expected, "{key}");
        for ad in &ads {
            assert!(!ad.text.trim().is_empty(), "{key}: {ad:?}");
        }
    }
    app.server.stop().await;
}

#[tokio::test]
async fn several_keys_concatenate_in_key_order() {
    let mut app = spawn_app().await;
    let ads = app.ads(&["kitchen", "hair", "clothing"]).await;
    assert_eq!(
        urls(&ads),
        [
            "/product/9SIQT8TOJO",
            "/product/6E92ZMYYFZ",
            "/product/2ZYFJ3GM2N",
            "/product/66VCHSJNUP",
        ]
    );
    let ads = app.ads(&["footwear", "decor"]).await;
    assert_eq!(urls(&ads), ["/product/L9ECAV7KIM", "/product/0PUK6V6EV0"]);
    // Unknown keys in between add nothing; a repeated key repeats its ads, as upstream.
    let ads = app.ads(&["tops", "decor", "beauty", "decor"]).await;
    assert_eq!(urls(&ads), ["/product/0PUK6V6EV0", "/product/0PUK6V6EV0"]);
    app.server.stop().await;
}

#[tokio::test]
async fn keys_match_case_insensitively_after_trimming() {
    let mut app = spawn_app().await;
    let ads = app.ads(&["  Kitchen", "HAIR ", "\tDecor\n"]).await;
    assert_eq!(
        urls(&ads),
        [
            "/product/9SIQT8TOJO",
            "/product/6E92ZMYYFZ",
            "/product/2ZYFJ3GM2N",
            "/product/0PUK6V6EV0",
        ]
    );
    app.server.stop().await;
}

#[tokio::test]
async fn no_hits_give_two_distinct_random_ads() {
    let mut app = spawn_app().await;
    let known = known_urls();
    let unknown_sets: [&[&str]; 5] = [
        &[],
        &["tops", "beauty", "home"],
        &["nonsense"],
        &[""],
        &["kitch en", "clothes"],
    ];
    let mut seen = HashSet::new();
    for keys in unknown_sets {
        for _ in 0..40 {
            let ads = app.ads(keys).await;
            assert_eq!(ads.len(), 2, "{keys:?}: {ads:?}");
            assert_ne!(ads[0], ads[1], "{keys:?}: {ads:?}");
            for ad in &ads {
                assert!(known.contains(&ad.redirect_url), "{ad:?}");
                seen.insert(ad.redirect_url.clone());
            }
        }
    }
    // 400 draws from 7 ads: all of them show up unless the draw is not random.
    assert_eq!(seen, known);
    app.server.stop().await;
}

#[tokio::test]
async fn the_answer_is_never_empty() {
    let mut app = spawn_app().await;
    let keys: [&[&str]; 4] = [&[], &["unknown"], &["kitchen"], &["hair", "x"]];
    for _ in 0..100 {
        for set in keys {
            assert!(!app.ads(set).await.is_empty(), "{set:?}");
        }
    }
    app.server.stop().await;
}

#[tokio::test]
async fn too_many_keys_are_invalid_argument() {
    let mut app = spawn_app().await;
    let request = |n: usize| AdRequest {
        context_keys: vec!["kitchen".to_owned(); n],
    };
    let ads = app.client.get_ads(request(MAX_CONTEXT_KEYS)).await.unwrap();
    assert_eq!(ads.into_inner().ads.len(), 2 * MAX_CONTEXT_KEYS);
    let status = app
        .client
        .get_ads(request(MAX_CONTEXT_KEYS + 1))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("context keys"), "{status:?}");
    app.server.stop().await;
}
