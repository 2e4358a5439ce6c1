//! ListProducts, GetProduct and SearchProducts against the built-in catalog.

use boutique_proto::{Empty, GetProductRequest, Money, SearchProductsRequest};
use tonic::Code;

use crate::helpers::spawn_app;

/// One upstream product: id, name, units, nanos, categories, picture file.
type Row = (
    &'static str,
    &'static str,
    i64,
    i32,
    &'static [&'static str],
    &'static str,
);

/// The upstream catalog, in upstream order.
const UPSTREAM: [Row; 9] = [
    (
        "OLJCESPC7Z",
        "Sunglasses",
        19,
        990_000_000,
        &["accessories"],
        "sunglasses.jpg",
    ),
    (
        "66VCHSJNUP",
        "Tank Top",
        18,
        990_000_000,
        &["clothing", "tops"],
        "tank-top.jpg",
    ),
    (
        "1YMWWN1N4O",
        "Watch",
        109,
        990_000_000,
        &["accessories"],
        "watch.jpg",
    ),
    (
        "L9ECAV7KIM",
        "Loafers",
        89,
        990_000_000,
        &["footwear"],
        "loafers.jpg",
    ),
    (
        "2ZYFJ3GM2N",
        "Hairdryer",
        24,
        990_000_000,
        &["hair", "beauty"],
        "hairdryer.jpg",
    ),
    (
        "0PUK6V6EV0",
        "Candle Holder",
        18,
        990_000_000,
        &["decor", "home"],
        "candle-holder.jpg",
    ),
    (
        "LS4PSXUNUM",
        "Salt & Pepper Shakers",
        18,
        490_000_000,
        &["kitchen"],
        "salt-and-pepper-shakers.jpg",
    ),
    (
        "9SIQT8TOJO",
        "Bamboo Glass Jar",
        5,
        490_000_000,
        &["kitchen"],
        "bamboo-glass-jar.jpg",
    ),
    ("6E92ZMYYFZ", "Mug", 8, 990_000_000, &["kitchen"], "mug.jpg"),
];

#[tokio::test]
async fn lists_the_nine_upstream_products_in_order() {
    let mut app = spawn_app().await;
    let products = app
        .client
        .list_products(Empty {})
        .await
        .unwrap()
        .into_inner()
        .products;
    assert_eq!(products.len(), UPSTREAM.len());
    for (product, (id, name, units, nanos, categories, file)) in products.iter().zip(UPSTREAM) {
        assert_eq!(product.id, id);
        assert_eq!(product.name, name);
        assert_eq!(
            product.price_usd,
            Some(Money {
                currency_code: "USD".into(),
                units,
                nanos
            }),
            "{id}"
        );
        assert_eq!(product.categories, categories, "{id}");
        assert_eq!(product.picture, format!("/static/img/products/{file}"));
        assert!(!product.description.is_empty(), "{id}");
    }
    app.server.stop().await;
}

#[tokio::test]
async fn gets_a_product_by_exact_id() {
    let mut app = spawn_app().await;
    let product = app
        .client
        .get_product(GetProductRequest {
            id: "1YMWWN1N4O".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(product.name, "Watch");
    assert_eq!(product.price_usd.unwrap().units, 109);
    app.server.stop().await;
}

#[tokio::test]
async fn unknown_ids_are_not_found_and_ids_are_case_sensitive() {
    let mut app = spawn_app().await;
    for id in ["NOPE", "1ymwwn1n4o", " 1YMWWN1N4O"] {
        let status = app
            .client
            .get_product(GetProductRequest { id: id.into() })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::NotFound, "{id}: {status:?}");
        assert_eq!(status.message(), format!("no product with ID {id}"));
    }
    app.server.stop().await;
}

#[tokio::test]
async fn an_empty_id_is_invalid() {
    let mut app = spawn_app().await;
    let status = app
        .client
        .get_product(GetProductRequest { id: String::new() })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    app.server.stop().await;
}

async fn search(app: &mut crate::helpers::TestApp, query: &str) -> Vec<String> {
    app.client
        .search_products(SearchProductsRequest {
            query: query.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .results
        .into_iter()
        .map(|p| p.id)
        .collect()
}

#[tokio::test]
async fn searches_names_ignoring_case_in_catalog_order() {
    let mut app = spawn_app().await;
    // "Sunglasses" and "Bamboo Glass Jar" both contain "glass".
    assert_eq!(
        search(&mut app, "GLASS").await,
        ["OLJCESPC7Z", "9SIQT8TOJO"]
    );
    assert_eq!(search(&mut app, "mug").await, ["6E92ZMYYFZ"]);
    assert_eq!(search(&mut app, "salt & PEPPER").await, ["LS4PSXUNUM"]);
    app.server.stop().await;
}

#[tokio::test]
async fn searches_descriptions() {
    let mut app = spawn_app().await;
    // Each word appears only in one product's description, not in any name.
    assert_eq!(search(&mut app, "Stoneware").await, ["6E92ZMYYFZ"]);
    assert_eq!(search(&mut app, "SUEDE").await, ["L9ECAV7KIM"]);
    assert_eq!(search(&mut app, "leather strap").await, ["1YMWWN1N4O"]);
    app.server.stop().await;
}

#[tokio::test]
async fn an_empty_query_matches_all_and_a_miss_matches_none() {
    let mut app = spawn_app().await;
    let all: Vec<&str> = UPSTREAM.iter().map(|row| row.0).collect();
    assert_eq!(search(&mut app, "").await, all);
    assert!(search(&mut app, "zeppelin").await.is_empty());
    app.server.stop().await;
}
