//! Reading a catalog from a products JSON file in the upstream shape.
//!
//! Upstream's `products.json` is protobuf JSON: a top-level `products` array
//! with camelCase keys (`priceUsd{currencyCode,units,nanos}`). Protobuf JSON
//! also allows the original snake_case field names and 64-bit integers written
//! as strings, so both are accepted here. Unknown keys are rejected: a typo
//! such as `priceUSD` should fail at startup, not silently lose a price.

use std::path::Path;

use boutique_proto::{Money, Product};
use serde::Deserialize;

use crate::catalog::{Catalog, CatalogError};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductsFile {
    products: Vec<ProductJson>,
}

// Proto3 JSON omits fields at their default value, hence the defaults.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductJson {
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    picture: String,
    #[serde(default, rename = "priceUsd", alias = "price_usd")]
    price_usd: Option<MoneyJson>,
    #[serde(default)]
    categories: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MoneyJson {
    #[serde(default, rename = "currencyCode", alias = "currency_code")]
    currency_code: String,
    #[serde(default, deserialize_with = "integer")]
    units: i64,
    #[serde(default, deserialize_with = "integer")]
    nanos: i32,
}

/// A protobuf JSON integer: a number, or a string holding one.
#[derive(Deserialize)]
#[serde(untagged)]
enum Integer {
    Number(i64),
    Text(String),
}

fn integer<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<i64>,
{
    let value = match Integer::deserialize(deserializer)? {
        Integer::Number(n) => n,
        Integer::Text(text) => text
            .trim()
            .parse::<i64>()
            .map_err(|_| serde::de::Error::custom(format!("{text:?} is not an integer")))?,
    };
    T::try_from(value).map_err(|_| serde::de::Error::custom(format!("{value} is out of range")))
}

impl From<ProductJson> for Product {
    fn from(json: ProductJson) -> Self {
        Self {
            id: json.id,
            name: json.name,
            description: json.description,
            picture: json.picture,
            price_usd: json.price_usd.map(|m| Money {
                currency_code: m.currency_code,
                units: m.units,
                nanos: m.nanos,
            }),
            categories: json.categories,
        }
    }
}

impl Catalog {
    /// Parses and validates products JSON (see the module docs for the shape).
    pub fn from_json(text: &str) -> Result<Self, CatalogError> {
        let file: ProductsFile = serde_json::from_str(text)?;
        Self::new(file.products.into_iter().map(Product::from).collect())
    }

    /// Reads, parses and validates a products JSON file.
    pub fn from_file(path: &Path) -> Result<Self, CatalogError> {
        let text = std::fs::read_to_string(path).map_err(|source| CatalogError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_json(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_camel_and_snake_case_and_string_integers() {
        let catalog = Catalog::from_json(
            r#"{"products": [
                {"id": "A", "name": "Apple", "description": "Crisp.", "picture": "/a.jpg",
                 "priceUsd": {"currencyCode": "USD", "units": 1, "nanos": 500000000},
                 "categories": ["Fruit"]},
                {"id": "B", "name": "Bread",
                 "price_usd": {"currency_code": "USD", "units": "3"}}
            ]}"#,
        )
        .unwrap();
        let [apple, bread] = catalog.products() else {
            panic!("expected two products");
        };
        assert_eq!(apple.categories, ["fruit"]);
        assert_eq!(apple.price_usd.as_ref().unwrap().nanos, 500_000_000);
        assert_eq!(bread.price_usd.as_ref().unwrap().units, 3);
        assert_eq!(bread.price_usd.as_ref().unwrap().nanos, 0);
        assert!(bread.categories.is_empty());
    }

    #[test]
    fn rejects_malformed_json() {
        let cases = [
            ("", "not a products JSON"),
            ("[]", "not a products JSON"),
            (r#"{"items": []}"#, "not a products JSON"),
            (
                r#"{"products": [{"id": "A", "priceUSD": {}}]}"#,
                "unknown field",
            ),
            (
                r#"{"products": [{"id": "A", "name": "A", "priceUsd": {"currencyCode": "USD", "units": "x"}}]}"#,
                "not an integer",
            ),
            (
                r#"{"products": [{"id": "A", "name": "A", "priceUsd": {"currencyCode": "USD", "nanos": 3000000000}}]}"#,
                "out of range",
            ),
            (r#"{"products": []}"#, "no products"),
        ];
        for (text, message) in cases {
            let err = Catalog::from_json(text).unwrap_err();
            assert!(err.to_string().contains(message), "{text}: {err}");
        }
    }
}
