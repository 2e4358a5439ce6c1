//! The catalog: a validated, immutable list of products with an id index.
//!
//! A [`Catalog`] is checked once when it is built (unique non-empty ids, names,
//! valid non-negative prices) and never changes afterwards, so lookups need no
//! locks and clones are a reference-count bump. Unlike upstream there is no
//! reload: a catalog that cannot change cannot be half-loaded.

use std::{collections::HashMap, fmt, sync::Arc};

use boutique_money::{Money, MoneyError};
use boutique_proto::Product;

/// Why a set of products cannot be a catalog.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The file is not products JSON.
    #[error("not a products JSON file: {0}")]
    Json(#[from] serde_json::Error),
    /// There are no products: a shop with nothing to sell is a mistake.
    #[error("the catalog has no products")]
    Empty,
    /// A product has an empty id.
    #[error("product #{position} has an empty id")]
    EmptyId { position: usize },
    /// Two products share an id, so lookups would be ambiguous.
    #[error("product id {id:?} appears more than once")]
    DuplicateId { id: String },
    /// A product has an empty name.
    #[error("product {id:?} has an empty name")]
    EmptyName { id: String },
    /// A product has no price.
    #[error("product {id:?} has no price")]
    MissingPrice { id: String },
    /// A product's price is not valid money.
    #[error("product {id:?} has an invalid price: {source}")]
    BadPrice {
        id: String,
        #[source]
        source: MoneyError,
    },
    /// A product's price is below zero.
    #[error("product {id:?} has a negative price")]
    NegativePrice { id: String },
}

/// An immutable, validated product catalog, cheap to clone.
#[derive(Clone)]
pub struct Catalog {
    inner: Arc<Inner>,
}

struct Inner {
    products: Vec<Product>,
    /// Position of each product by id, so `get` is not a scan.
    by_id: HashMap<String, usize>,
    /// Lowercased "name\ndescription" per product, computed once so a search
    /// does not lowercase the whole catalog on every request.
    haystacks: Vec<(String, String)>,
}

impl Catalog {
    /// Validates `products` and builds a catalog that keeps their order.
    /// Categories are lowercased and blank ones dropped.
    pub fn new(mut products: Vec<Product>) -> Result<Self, CatalogError> {
        if products.is_empty() {
            return Err(CatalogError::Empty);
        }
        for (position, product) in products.iter_mut().enumerate() {
            validate(position, product)?;
            product.categories = product
                .categories
                .iter()
                .map(|c| c.trim().to_lowercase())
                .filter(|c| !c.is_empty())
                .collect();
        }
        let mut by_id = HashMap::with_capacity(products.len());
        for (position, product) in products.iter().enumerate() {
            if by_id.insert(product.id.clone(), position).is_some() {
                return Err(CatalogError::DuplicateId {
                    id: product.id.clone(),
                });
            }
        }
        Ok(Self::indexed(products, by_id))
    }

    /// Builds a catalog without validation, for the embedded rows (checked by a
    /// unit test instead, so there is no error path to handle at run time).
    pub(crate) fn from_trusted(products: Vec<Product>) -> Self {
        let by_id = products
            .iter()
            .enumerate()
            .map(|(position, p)| (p.id.clone(), position))
            .collect();
        Self::indexed(products, by_id)
    }

    fn indexed(products: Vec<Product>, by_id: HashMap<String, usize>) -> Self {
        let haystacks = products
            .iter()
            .map(|p| (p.name.to_lowercase(), p.description.to_lowercase()))
            .collect();
        Self {
            inner: Arc::new(Inner {
                products,
                by_id,
                haystacks,
            }),
        }
    }

    /// Every product, in catalog order.
    pub fn products(&self) -> &[Product] {
        &self.inner.products
    }

    /// The number of products.
    pub fn len(&self) -> usize {
        self.inner.products.len()
    }

    /// Always false for a built catalog; here for API completeness.
    pub fn is_empty(&self) -> bool {
        self.inner.products.is_empty()
    }

    /// The product with exactly this id (case-sensitive).
    pub fn get(&self, id: &str) -> Option<&Product> {
        self.inner
            .by_id
            .get(id)
            .and_then(|&position| self.inner.products.get(position))
    }

    /// Products whose name or description contains `query`, ignoring case, in
    /// catalog order. An empty query matches everything.
    pub fn search(&self, query: &str) -> impl Iterator<Item = &Product> + '_ {
        let query = query.to_lowercase();
        self.inner
            .products
            .iter()
            .zip(&self.inner.haystacks)
            .filter(move |(_, (name, description))| {
                name.contains(&query) || description.contains(&query)
            })
            .map(|(product, _)| product)
    }
}

impl fmt::Debug for Catalog {
    // Printing every product would drown config dumps; the size says enough.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Catalog")
            .field("products", &self.len())
            .finish()
    }
}

fn validate(position: usize, product: &Product) -> Result<(), CatalogError> {
    if product.id.trim().is_empty() {
        return Err(CatalogError::EmptyId { position });
    }
    let id = || product.id.clone();
    if product.name.trim().is_empty() {
        return Err(CatalogError::EmptyName { id: id() });
    }
    let price = product
        .price_usd
        .as_ref()
        .ok_or_else(|| CatalogError::MissingPrice { id: id() })?;
    let price =
        Money::try_from(price).map_err(|source| CatalogError::BadPrice { id: id(), source })?;
    if price.is_negative() {
        return Err(CatalogError::NegativePrice { id: id() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small catalog in the spirit of upstream's mock data.
    fn mock() -> Catalog {
        let product = |id: &str, name: &str, description: &str| Product {
            id: id.into(),
            name: name.into(),
            description: description.into(),
            picture: String::new(),
            price_usd: Some(boutique_proto::Money {
                currency_code: "USD".into(),
                units: 1,
                nanos: 0,
            }),
            categories: vec!["Misc".into(), " ".into()],
        };
        Catalog::new(vec![
            product("a1", "Alpha Widget", "The first one."),
            product("b2", "Beta Widget", "Goes well with an ALPHA widget."),
            product("c3", "Gamma", "Nothing in common."),
        ])
        .unwrap()
    }

    #[test]
    fn gets_by_exact_id() {
        let catalog = mock();
        assert_eq!(catalog.get("b2").unwrap().name, "Beta Widget");
        assert!(catalog.get("B2").is_none());
        assert!(catalog.get("zz").is_none());
        assert!(catalog.get("").is_none());
    }

    #[test]
    fn lists_in_order_with_lowercased_categories() {
        let catalog = mock();
        assert_eq!(catalog.len(), 3);
        assert!(!catalog.is_empty());
        let ids: Vec<&str> = catalog.products().iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["a1", "b2", "c3"]);
        assert_eq!(catalog.products()[0].categories, ["misc"]);
    }

    #[test]
    fn searches_names_and_descriptions_ignoring_case() {
        let catalog = mock();
        let hits = |q: &str| catalog.search(q).map(|p| p.id.clone()).collect::<Vec<_>>();
        assert_eq!(hits("alpha"), ["a1", "b2"]);
        assert_eq!(hits("WIDGET"), ["a1", "b2"]);
        assert_eq!(hits("common"), ["c3"]);
        assert_eq!(hits(""), ["a1", "b2", "c3"]);
        assert!(hits("delta").is_empty());
    }

    #[test]
    fn rejects_bad_products() {
        let good = || mock().products()[0].clone();
        let money = |units, nanos, code: &str| {
            Some(boutique_proto::Money {
                currency_code: code.into(),
                units,
                nanos,
            })
        };
        let cases: Vec<(Vec<Product>, &str)> = vec![
            (vec![], "no products"),
            (
                vec![Product {
                    id: " ".into(),
                    ..good()
                }],
                "empty id",
            ),
            (vec![good(), good()], "more than once"),
            (
                vec![Product {
                    name: String::new(),
                    ..good()
                }],
                "empty name",
            ),
            (
                vec![Product {
                    price_usd: None,
                    ..good()
                }],
                "no price",
            ),
            (
                vec![Product {
                    price_usd: money(1, -1, "USD"),
                    ..good()
                }],
                "invalid price",
            ),
            (
                vec![Product {
                    price_usd: money(1, 0, "usd"),
                    ..good()
                }],
                "invalid price",
            ),
            (
                vec![Product {
                    price_usd: money(-1, 0, "USD"),
                    ..good()
                }],
                "negative price",
            ),
        ];
        for (products, message) in cases {
            let err = Catalog::new(products).unwrap_err();
            assert!(err.to_string().contains(message), "{err} vs {message}");
        }
    }
}
