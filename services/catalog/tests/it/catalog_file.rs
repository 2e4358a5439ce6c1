//! `PRODUCT_CATALOG_FILE`: a good file replaces the built-in catalog; a bad one
//! stops the service from starting, naming the variable.

use boutique_platform::ServiceConfig;
use std::io::Write;

use boutique_catalog::Config;
use boutique_proto::{Empty, GetProductRequest, SearchProductsRequest};
use tempfile::NamedTempFile;
use tonic::Code;

use crate::helpers::{spawn_app_with, test_env};

fn write_file(text: &str) -> NamedTempFile {
    let mut file = NamedTempFile::new().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file.flush().unwrap();
    file
}

const TWO_PRODUCTS: &str = r#"{
  "products": [
    {
      "id": "TEA0000001",
      "name": "Green Tea",
      "description": "Loose leaves from a hillside garden.",
      "picture": "/static/img/products/tea.jpg",
      "priceUsd": { "currencyCode": "USD", "units": 4, "nanos": 250000000 },
      "categories": ["Kitchen", "DRINKS"]
    },
    {
      "id": "KETTLE0002",
      "name": "Kettle",
      "description": "Boils water for tea.",
      "picture": "/static/img/products/kettle.jpg",
      "price_usd": { "currency_code": "USD", "units": "30" },
      "categories": ["kitchen"]
    }
  ]
}"#;

#[tokio::test]
async fn a_good_file_replaces_the_built_in_catalog() {
    let file = write_file(TWO_PRODUCTS);
    let path = file.path().to_str().unwrap();
    let mut app = spawn_app_with(&[("PRODUCT_CATALOG_FILE", path)]).await;

    let products = app
        .client
        .list_products(Empty {})
        .await
        .unwrap()
        .into_inner()
        .products;
    let ids: Vec<&str> = products.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["TEA0000001", "KETTLE0002"]);
    assert_eq!(products[0].categories, ["kitchen", "drinks"]);
    let price = products[1].price_usd.clone().unwrap();
    assert_eq!(
        (price.currency_code.as_str(), price.units, price.nanos),
        ("USD", 30, 0)
    );

    // The built-in products are gone.
    let status = app
        .client
        .get_product(GetProductRequest {
            id: "OLJCESPC7Z".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let hits = app
        .client
        .search_products(SearchProductsRequest {
            query: "TEA".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(hits.len(), 2, "Green Tea by name, Kettle by description");
    app.server.stop().await;
}

#[test]
fn bad_files_are_rejected_naming_the_variable() {
    let product = |id: &str, name: &str, price: &str| {
        format!(r#"{{"id": "{id}", "name": "{name}", "priceUsd": {price}}}"#)
    };
    let usd = r#"{"currencyCode": "USD", "units": 1}"#;
    let cases = [
        ("not json".to_owned(), "not a products JSON"),
        (r#"{"products": []}"#.to_owned(), "no products"),
        (
            format!(r#"{{"products": [{}]}}"#, product("", "A", usd)),
            "empty id",
        ),
        (
            format!(
                r#"{{"products": [{}, {}]}}"#,
                product("X", "A", usd),
                product("X", "B", usd)
            ),
            "more than once",
        ),
        (
            format!(r#"{{"products": [{}]}}"#, product("X", "", usd)),
            "empty name",
        ),
        (
            r#"{"products": [{"id": "X", "name": "A"}]}"#.to_owned(),
            "no price",
        ),
        (
            format!(
                r#"{{"products": [{}]}}"#,
                product(
                    "X",
                    "A",
                    r#"{"currencyCode": "USD", "units": 1, "nanos": -5}"#
                )
            ),
            "invalid price",
        ),
        (
            format!(
                r#"{{"products": [{}]}}"#,
                product("X", "A", r#"{"currencyCode": "dollars", "units": 1}"#)
            ),
            "invalid price",
        ),
        (
            format!(
                r#"{{"products": [{}]}}"#,
                product("X", "A", r#"{"currencyCode": "USD", "units": -2}"#)
            ),
            "negative price",
        ),
    ];
    for (text, reason) in cases {
        let file = write_file(&text);
        let path = file.path().to_str().unwrap();
        let err = Config::from_env(&test_env(&[("PRODUCT_CATALOG_FILE", path)])).unwrap_err();
        assert_eq!(err.var, "PRODUCT_CATALOG_FILE", "{text}");
        assert_eq!(err.value, path);
        assert!(err.reason.contains(reason), "{text}: {err}");
        assert!(err.to_string().contains("PRODUCT_CATALOG_FILE"), "{err}");
    }
}

#[test]
fn a_missing_file_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.json");
    let path = path.to_str().unwrap();
    let err = Config::from_env(&test_env(&[("PRODUCT_CATALOG_FILE", path)])).unwrap_err();
    assert_eq!(err.var, "PRODUCT_CATALOG_FILE");
    assert!(err.reason.contains("cannot read"), "{err}");
}

#[test]
fn without_a_file_the_built_in_catalog_is_used() {
    let config = Config::from_env(&test_env(&[])).unwrap();
    assert_eq!(config.catalog.len(), 9);
    assert_eq!(
        config.catalog.products(),
        boutique_catalog::embedded_catalog().products()
    );
}
