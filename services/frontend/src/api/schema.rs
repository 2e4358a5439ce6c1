//! The API's JSON documents shared by several operations, with their
//! OpenAPI schemas: money, products, the cart, and what checkout takes and
//! gives. (Orders have theirs in [`crate::api::orders`].)
//!
//! Money is never a float: `units` and `nanos` exactly as the services carry
//! them (`google.type.Money`), plus `display`, the text
//! [`format_price`] writes for every page and email.

use boutique_money::{Money, format_price};
use boutique_proto::Product;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An amount of money.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Money)]
pub(crate) struct MoneyJson {
    /// ISO 4217 code.
    #[schema(example = "EUR")]
    currency_code: String,
    /// Whole units.
    #[schema(example = 17)]
    units: i64,
    /// Billionths of a unit, with the same sign as `units`.
    #[schema(example = 680_000_000, minimum = -999_999_999, maximum = 999_999_999)]
    nanos: i32,
    /// The amount as the shop shows it, rounded to the currency's minor unit.
    #[schema(example = "€17.68")]
    display: String,
}

impl From<&Money> for MoneyJson {
    fn from(money: &Money) -> Self {
        Self {
            currency_code: money.currency_code().to_owned(),
            units: money.units(),
            nanos: money.nanos(),
            display: format_price(money),
        }
    }
}

/// A product, priced in the currency asked for.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Product)]
pub(crate) struct ProductJson {
    #[schema(example = "OLJCESPC7Z")]
    pub(crate) id: String,
    #[schema(example = "Sunglasses")]
    pub(crate) name: String,
    pub(crate) description: String,
    /// The picture's URL path on this shop.
    #[schema(example = "/static/img/products/sunglasses.jpg")]
    pub(crate) picture: String,
    #[schema(example = json!(["accessories"]))]
    pub(crate) categories: Vec<String>,
    /// The catalog's USD price converted and rounded to the currency's minor
    /// unit: what the cart and checkout charge per item.
    pub(crate) price: MoneyJson,
    /// Its ratings' count and average; `null` when the ratings service did
    /// not answer in time (the product is served all the same).
    pub(crate) rating: Option<crate::api::ratings::SummaryJson>,
}

impl ProductJson {
    pub(crate) fn new(base: &str, product: &Product, price: &Money) -> Self {
        Self {
            id: product.id.clone(),
            name: product.name.clone(),
            description: product.description.clone(),
            picture: crate::views::picture_url(base, &product.picture),
            categories: product.categories.clone(),
            price: MoneyJson::from(price),
            rating: None,
        }
    }
}

/// A page of products.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ProductPage {
    pub(crate) products: Vec<ProductJson>,
    /// Pass it as `page_token` for the next page; `null` on the last page.
    pub(crate) next_page_token: Option<String>,
}

/// The currencies prices can be asked in.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Currencies {
    /// Every supported ISO 4217 code, in the currency service's order.
    #[schema(example = json!(["EUR", "USD", "JPY"]))]
    pub(crate) currency_codes: Vec<String>,
    /// The currency used when a request names none (the session's choice, or USD).
    #[schema(example = "USD")]
    pub(crate) default: String,
}

/// One line of the cart.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CartLine {
    #[schema(example = "OLJCESPC7Z")]
    pub(crate) product_id: String,
    #[schema(example = "Sunglasses")]
    pub(crate) name: String,
    #[schema(example = 2)]
    pub(crate) quantity: i32,
    pub(crate) unit_price: MoneyJson,
    /// `unit_price` × `quantity`.
    pub(crate) line_total: MoneyJson,
}

/// The caller's cart, priced as checkout would charge it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Cart {
    #[schema(example = "USD")]
    pub(crate) currency_code: String,
    pub(crate) items: Vec<CartLine>,
    /// The sum of quantities.
    pub(crate) item_count: i64,
    /// Zero for an empty cart.
    pub(crate) shipping: MoneyJson,
    /// The lines plus shipping.
    pub(crate) total: MoneyJson,
}

/// Put some of a product in the cart.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct AddCartItem {
    #[schema(example = "OLJCESPC7Z")]
    pub(crate) product_id: String,
    /// How many to add, 1 to 10 at a time (the pages' rule).
    #[schema(example = 1, minimum = 1, maximum = 10)]
    pub(crate) quantity: i64,
}

/// Where an order goes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub(crate) struct AddressJson {
    #[schema(example = "1600 Amphitheatre Parkway")]
    pub(crate) street_address: String,
    #[schema(example = "Mountain View")]
    pub(crate) city: String,
    #[schema(example = "CA")]
    pub(crate) state: String,
    #[schema(example = "United States")]
    pub(crate) country: String,
    #[schema(example = 94043)]
    pub(crate) zip_code: i64,
}

/// The card to charge. Never logged, never stored beyond its last four digits.
#[derive(Deserialize, ToSchema)]
pub(crate) struct CardJson {
    /// Digits, in groups separated by single spaces if you like.
    #[schema(example = "4432 8015 6152 0454")]
    pub(crate) number: String,
    #[schema(example = 672)]
    pub(crate) cvv: i64,
    #[schema(example = 1, minimum = 1, maximum = 12)]
    pub(crate) expiration_month: i64,
    #[schema(example = 2039)]
    pub(crate) expiration_year: i64,
}

impl std::fmt::Debug for CardJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CardJson(..)")
    }
}

/// Place an order for the caller's cart.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct CheckoutRequest {
    #[schema(example = "someone@example.com")]
    pub(crate) email: String,
    pub(crate) address: AddressJson,
    pub(crate) credit_card: CardJson,
}

/// One line of a placed order.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PlacedLine {
    #[schema(example = "OLJCESPC7Z")]
    pub(crate) product_id: String,
    pub(crate) quantity: i32,
    pub(crate) unit_cost: MoneyJson,
}

/// An order checkout placed. Its full record, with its timeline, is at
/// `Location` (`GET /api/v1/orders/{id}`).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PlacedOrder {
    #[schema(example = "0b6f5a8e-4f38-4c43-9d3f-2f0f2f7b9a11")]
    pub(crate) order_id: String,
    pub(crate) tracking_id: String,
    pub(crate) items: Vec<PlacedLine>,
    pub(crate) shipping_cost: MoneyJson,
    /// What the card was charged: the lines plus shipping.
    pub(crate) total: MoneyJson,
    pub(crate) shipping_address: Option<AddressJson>,
}

/// The storefront is up.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Health {
    #[schema(example = "healthy")]
    pub(crate) status: &'static str,
    #[schema(example = "frontend")]
    pub(crate) service: &'static str,
}
