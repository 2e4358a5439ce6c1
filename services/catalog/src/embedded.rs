//! The nine products built into the binary.
//!
//! Ids, names, prices, categories and picture files match the upstream shop so
//! that upstream clients (the load generator, ad links, saved carts) keep
//! working; the descriptions are our own copy.

use std::sync::LazyLock;

use boutique_proto::{Money, Product};

use crate::catalog::Catalog;

/// One row of the built-in catalog, kept as plain static data so it costs
/// nothing until first use.
struct Row {
    id: &'static str,
    name: &'static str,
    description: &'static str,
    file: &'static str,
    units: i64,
    nanos: i32,
    categories: &'static [&'static str],
}

const ROWS: [Row; 9] = [
    Row {
        id: "OLJCESPC7Z",
        name: "Sunglasses",
        description: "Polarised lenses in a light acetate frame that take the glare off bright \
                      afternoons by the water.",
        file: "sunglasses.jpg",
        units: 19,
        nanos: 990_000_000,
        categories: &["accessories"],
    },
    Row {
        id: "66VCHSJNUP",
        name: "Tank Top",
        description: "A breathable cotton-blend tank with a relaxed cut, made for warm days and \
                      easy layering.",
        file: "tank-top.jpg",
        units: 18,
        nanos: 990_000_000,
        categories: &["clothing", "tops"],
    },
    Row {
        id: "1YMWWN1N4O",
        name: "Watch",
        description: "A slim steel watch with a clean dial and a leather strap that suits jeans \
                      as well as a suit.",
        file: "watch.jpg",
        units: 109,
        nanos: 990_000_000,
        categories: &["accessories"],
    },
    Row {
        id: "L9ECAV7KIM",
        name: "Loafers",
        description: "Soft suede slip-ons on a cushioned sole, smart enough for the office and \
                      easy enough for the weekend.",
        file: "loafers.jpg",
        units: 89,
        nanos: 990_000_000,
        categories: &["footwear"],
    },
    Row {
        id: "2ZYFJ3GM2N",
        name: "Hairdryer",
        description: "A compact dryer with three heat settings and a cool-shot button for a \
                      smooth finish without the frizz.",
        file: "hairdryer.jpg",
        units: 24,
        nanos: 990_000_000,
        categories: &["hair", "beauty"],
    },
    Row {
        id: "0PUK6V6EV0",
        name: "Candle Holder",
        description: "A hand-finished ceramic holder that throws a warm, flickering glow across \
                      a shelf or a dinner table.",
        file: "candle-holder.jpg",
        units: 18,
        nanos: 990_000_000,
        categories: &["decor", "home"],
    },
    Row {
        id: "LS4PSXUNUM",
        name: "Salt & Pepper Shakers",
        description: "A matched pair of weighted shakers with adjustable pour holes, as happy \
                      on the table as beside the stove.",
        file: "salt-and-pepper-shakers.jpg",
        units: 18,
        nanos: 490_000_000,
        categories: &["kitchen"],
    },
    Row {
        id: "9SIQT8TOJO",
        name: "Bamboo Glass Jar",
        description: "A clear canister sealed with a bamboo lid that keeps coffee, pasta or \
                      snacks fresh in the pantry.",
        file: "bamboo-glass-jar.jpg",
        units: 5,
        nanos: 490_000_000,
        categories: &["kitchen"],
    },
    Row {
        id: "6E92ZMYYFZ",
        name: "Mug",
        description: "A sturdy stoneware mug in a speckled glaze that keeps morning coffee hot a \
                      little longer.",
        file: "mug.jpg",
        units: 8,
        nanos: 990_000_000,
        categories: &["kitchen"],
    },
];

/// Built once per process: every service and test that asks shares it.
static EMBEDDED: LazyLock<Catalog> = LazyLock::new(|| {
    // The rows are checked by `embedded_rows_pass_validation` below, so the
    // unvalidated constructor cannot admit a bad product.
    Catalog::from_trusted(ROWS.iter().map(Row::product).collect())
});

/// The catalog built into the binary: the nine upstream products, in upstream order.
pub fn embedded_catalog() -> Catalog {
    EMBEDDED.clone()
}

impl Row {
    fn product(&self) -> Product {
        Product {
            id: self.id.to_owned(),
            name: self.name.to_owned(),
            description: self.description.to_owned(),
            picture: format!("/static/img/products/{}", self.file),
            price_usd: Some(Money {
                currency_code: "USD".to_owned(),
                units: self.units,
                nanos: self.nanos,
            }),
            categories: self.categories.iter().map(|&c| c.to_owned()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_rows_pass_validation() {
        let products: Vec<Product> = ROWS.iter().map(Row::product).collect();
        let checked = Catalog::new(products.clone()).unwrap();
        assert_eq!(checked.products(), products.as_slice());
        assert_eq!(embedded_catalog().products(), products.as_slice());
    }

    #[test]
    fn descriptions_are_one_or_two_plain_sentences() {
        for row in &ROWS {
            assert!(row.description.ends_with('.'), "{}", row.id);
            assert!(!row.description.contains("  "), "{}", row.id);
            assert!(row.description.len() < 200, "{}", row.id);
        }
    }
}
