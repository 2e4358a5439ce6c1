//! Form validation with upstream's rules and field names, and the checks on
//! the query parameters and ids of our own routes (the order pages and API).
//!
//! Each form is checked whole, so the 422 page lists every bad field at once,
//! one `Field '<Name>' is invalid: <why>` line each, using upstream's field
//! names (Quantity, ProductID, Email, ..., Currency). Numbers that do not
//! parse count as zero, as upstream, so "abc" fails the same rule as "0".
//! Query parameters of our own routes are named as they are sent
//! (`page_size`), and a number that does not parse is refused, not zero.

use std::{collections::HashMap, fmt};

use crate::price;

/// One field that failed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Upstream's name for the field, e.g. `CcNumber`.
    pub field: &'static str,
    /// What is wrong, for people.
    pub reason: &'static str,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Field '{}' is invalid: {}", self.field, self.reason)
    }
}

/// Submitted form fields by name; the first value wins when a name repeats.
#[derive(Debug, Clone, Default)]
pub struct Fields(HashMap<String, String>);

impl Fields {
    /// Collects decoded `name=value` pairs.
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        let mut map = HashMap::with_capacity(pairs.len());
        for (name, value) in pairs {
            map.entry(name).or_insert(value);
        }
        Self(map)
    }

    /// The value of `name`, trimmed; empty when missing.
    pub fn get(&self, name: &str) -> &str {
        self.0.get(name).map_or("", |value| value.trim())
    }

    /// The value of `name` exactly as sent (a password: spaces count);
    /// empty when missing.
    pub fn raw(&self, name: &str) -> &str {
        self.0.get(name).map_or("", String::as_str)
    }

    /// An integer field; anything unparsable reads as zero, as upstream.
    fn int(&self, name: &str) -> i64 {
        self.get(name).parse().unwrap_or(0)
    }
}

/// The add-to-cart form (`product_id`, `quantity`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddToCart {
    /// The product to add.
    pub product_id: String,
    /// How many, 1 to 10.
    pub quantity: i32,
}

/// The checkout form, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    /// `email`.
    pub email: String,
    /// `street_address`.
    pub street_address: String,
    /// `zip_code`, non-zero.
    pub zip_code: i32,
    /// `city`.
    pub city: String,
    /// `state`.
    pub state: String,
    /// `country`.
    pub country: String,
    /// `credit_card_number`, digits only.
    pub card_number: String,
    /// `credit_card_expiration_month`, 1 to 12.
    pub card_month: i32,
    /// `credit_card_expiration_year`, non-zero.
    pub card_year: i32,
    /// `credit_card_cvv`, non-zero.
    pub card_cvv: i32,
    /// `order_key`: the hidden field our checkout form carries, a UUID that
    /// makes a resubmitted form (a double click, a browser retry) the same
    /// order. Upstream's form has none.
    pub order_key: Option<String>,
}

/// The largest quantity one add-to-cart may carry, as upstream.
pub const MAX_QUANTITY: i64 = 10;

/// Checks the add-to-cart form.
pub fn add_to_cart(fields: &Fields) -> Result<AddToCart, Vec<FieldError>> {
    let mut errors = Vec::new();
    let quantity = fields.int("quantity");
    if quantity == 0 {
        errors.push(required("Quantity"));
    } else if !(1..=MAX_QUANTITY).contains(&quantity) {
        errors.push(FieldError {
            field: "Quantity",
            reason: "must be a whole number from 1 to 10",
        });
    }
    let product_id = fields.get("product_id");
    if product_id.is_empty() {
        errors.push(required("ProductID"));
    } else if !is_product_id(product_id) {
        errors.push(FieldError {
            field: "ProductID",
            reason: "is not a product id",
        });
    }
    match i32::try_from(quantity) {
        Ok(quantity) if errors.is_empty() => Ok(AddToCart {
            product_id: product_id.to_owned(),
            quantity,
        }),
        _ => Err(errors),
    }
}

/// Checks the currency form: only the currencies the header offers.
pub fn currency(fields: &Fields) -> Result<String, Vec<FieldError>> {
    let code = fields.get("currency_code");
    if code.is_empty() {
        Err(vec![required("Currency")])
    } else if price::is_offered(code) {
        Ok(code.to_owned())
    } else {
        Err(vec![FieldError {
            field: "Currency",
            reason: "is not a currency this shop offers",
        }])
    }
}

/// Checks the checkout form, field by field in upstream's order.
pub fn checkout(fields: &Fields) -> Result<Checkout, Vec<FieldError>> {
    let mut errors = Vec::new();
    let email = fields.get("email");
    if email.is_empty() {
        errors.push(required("Email"));
    } else if !is_email(email) {
        errors.push(FieldError {
            field: "Email",
            reason: "is not an email address",
        });
    }
    let street_address = text(fields, "street_address", "StreetAddress", 512, &mut errors);
    let zip_code = nonzero_i32(fields, "zip_code", "ZipCode", &mut errors);
    let city = text(fields, "city", "City", 128, &mut errors);
    let state = text(fields, "state", "State", 128, &mut errors);
    let country = text(fields, "country", "Country", 128, &mut errors);
    let raw_number = fields.get("credit_card_number");
    let card_number = if raw_number.is_empty() {
        errors.push(required("CcNumber"));
        None
    } else {
        let digits = card_digits(raw_number);
        if digits.is_none() {
            errors.push(FieldError {
                field: "CcNumber",
                reason: "is not a valid card number",
            });
        }
        digits
    };
    let card_month = fields.int("credit_card_expiration_month");
    if card_month == 0 {
        errors.push(required("CcMonth"));
    } else if !(1..=12).contains(&card_month) {
        errors.push(FieldError {
            field: "CcMonth",
            reason: "must be a month from 1 to 12",
        });
    }
    let card_year = nonzero_i32(fields, "credit_card_expiration_year", "CcYear", &mut errors);
    let card_cvv = nonzero_i32(fields, "credit_card_cvv", "CcCVV", &mut errors);
    let order_key = match fields.get("order_key") {
        "" => None,
        key if uuid::Uuid::try_parse(key).is_ok() => Some(key.to_owned()),
        _ => {
            errors.push(FieldError {
                field: "OrderKey",
                reason: "is not a valid form key; reload the cart page",
            });
            None
        }
    };

    match (card_number, i32::try_from(card_month)) {
        (Some(card_number), Ok(card_month)) if errors.is_empty() => Ok(Checkout {
            email: email.to_owned(),
            street_address,
            zip_code,
            city,
            state,
            country,
            card_number,
            card_month,
            card_year,
            card_cvv,
            order_key,
        }),
        _ => Err(errors),
    }
}

fn required(field: &'static str) -> FieldError {
    FieldError {
        field,
        reason: "is required",
    }
}

/// A required text field of at most `max` characters.
fn text(
    fields: &Fields,
    name: &str,
    field: &'static str,
    max: usize,
    errors: &mut Vec<FieldError>,
) -> String {
    let value = fields.get(name);
    if value.is_empty() {
        errors.push(required(field));
    } else if value.chars().count() > max {
        errors.push(FieldError {
            field,
            reason: if max == 512 {
                "must be at most 512 characters"
            } else {
                "must be at most 128 characters"
            },
        });
    }
    value.to_owned()
}

/// A required non-zero integer that fits the wire's `int32`.
fn nonzero_i32(
    fields: &Fields,
    name: &str,
    field: &'static str,
    errors: &mut Vec<FieldError>,
) -> i32 {
    let value = fields.int(name);
    if value == 0 {
        errors.push(required(field));
        return 0;
    }
    i32::try_from(value).unwrap_or_else(|_| {
        errors.push(FieldError {
            field,
            reason: "is out of range",
        });
        0
    })
}

/// Upstream's `credit_card` rule: space-separated groups of at least three
/// characters, 12 to 19 digits in all, passing the Luhn check. Returns the digits.
pub fn card_digits(number: &str) -> Option<String> {
    if number.split(' ').any(|group| group.len() < 3) {
        return None;
    }
    let digits: String = number.split(' ').collect();
    let valid = (12..=19).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && luhn(&digits);
    valid.then_some(digits)
}

/// The Luhn checksum over ASCII digits.
fn luhn(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(idx, byte)| {
            let digit = u32::from(byte - b'0');
            if idx % 2 == 1 {
                let doubled = digit * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                digit
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// A plain address check: `local@domain`, a dot-atom local part and a domain
/// of letter-digit-hyphen labels. Deliverability is the mail server's business.
pub fn is_email(value: &str) -> bool {
    let Some((local, domain)) = value.rsplit_once('@') else {
        return false;
    };
    let local_ok = (1..=64).contains(&local.len())
        && local.split('.').all(|atom| {
            !atom.is_empty()
                && atom
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~-".contains(&b))
        });
    let domain_ok = (1..=253).contains(&domain.len())
        && domain.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    local_ok && domain_ok
}

/// Product ids are short runs of letters and digits; anything else cannot name
/// a product and is refused before it reaches the catalog.
pub fn is_product_id(value: &str) -> bool {
    (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// How many orders a page holds unless the client asks otherwise (the
/// orders service's own default).
pub const DEFAULT_PAGE_SIZE: u32 = 20;

/// The most orders one page may hold (the orders service's cap).
pub const MAX_PAGE_SIZE: u32 = 100;

/// The longest page token passed on. The orders service's tokens are a
/// timestamp and an order id, far shorter; anything longer is not one of them.
const MAX_PAGE_TOKEN_LEN: usize = 128;

/// Which page of orders: the `page_size` and `page_token` query parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrdersPage {
    /// 1 to [`MAX_PAGE_SIZE`]; [`DEFAULT_PAGE_SIZE`] when not given.
    pub page_size: u32,
    /// Opaque: the previous page's `next_page_token`; empty for the first page.
    pub page_token: String,
}

/// Checks the query of an orders list. The token is opaque here (the orders
/// service alone knows its shape and refuses one it did not give out); only
/// its length and characters are bounded, so nothing odd is passed on.
pub fn orders_page(fields: &Fields) -> Result<OrdersPage, Vec<FieldError>> {
    let mut errors = Vec::new();
    let page_size = match fields.get("page_size") {
        "" => DEFAULT_PAGE_SIZE,
        text => match text.parse::<u32>() {
            Ok(size) if (1..=MAX_PAGE_SIZE).contains(&size) => size,
            _ => {
                errors.push(FieldError {
                    field: "page_size",
                    reason: "must be a whole number from 1 to 100",
                });
                DEFAULT_PAGE_SIZE
            }
        },
    };
    let page_token = page_token(fields).unwrap_or_else(|error| {
        errors.push(error);
        String::new()
    });
    if errors.is_empty() {
        Ok(OrdersPage {
            page_size,
            page_token,
        })
    } else {
        Err(errors)
    }
}

/// Checks the `page_token` query parameter alone (see [`orders_page`]).
pub fn page_token(fields: &Fields) -> Result<String, FieldError> {
    let token = fields.get("page_token");
    if is_page_token(token) {
        Ok(token.to_owned())
    } else {
        Err(bad_page_token())
    }
}

/// The error for a page token that is not one the shop gave out.
pub fn bad_page_token() -> FieldError {
    FieldError {
        field: "page_token",
        reason: "is not one this shop gave out; start again from the first page",
    }
}

/// Empty (the first page), or printable ASCII up to a bound.
fn is_page_token(value: &str) -> bool {
    value.len() <= MAX_PAGE_TOKEN_LEN && value.bytes().all(|b| b.is_ascii_graphic())
}

/// The canonical form of an order id (a UUID, as the orders service mints
/// them), or `None` for anything that cannot be one: such a request is a 404
/// without asking the orders service.
pub fn order_id(value: &str) -> Option<String> {
    let uuid = uuid::Uuid::try_parse(value).ok()?;
    let canonical = uuid.hyphenated().to_string();
    // Only the hyphenated form is an id; braces, URNs and bare hex are not.
    canonical.eq_ignore_ascii_case(value).then_some(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        Fields::new(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    fn good_checkout() -> Vec<(&'static str, &'static str)> {
        vec![
            ("email", "someone@example.com"),
            ("street_address", "1600 Amphitheatre Parkway"),
            ("zip_code", "94043"),
            ("city", "Mountain View"),
            ("state", "CA"),
            ("country", "United States"),
            ("credit_card_number", "4432 8015 6152 0454"),
            ("credit_card_expiration_month", "1"),
            ("credit_card_expiration_year", "2099"),
            ("credit_card_cvv", "672"),
        ]
    }

    fn names(errors: &[FieldError]) -> Vec<&'static str> {
        errors.iter().map(|e| e.field).collect()
    }

    #[test]
    fn quantities_are_one_to_ten() {
        for (quantity, ok) in [
            ("1", true),
            ("10", true),
            ("0", false),
            ("11", false),
            ("-1", false),
            ("abc", false),
            ("", false),
            ("99999999999999999999", false),
        ] {
            let result = add_to_cart(&fields(&[
                ("product_id", "OLJCESPC7Z"),
                ("quantity", quantity),
            ]));
            assert_eq!(result.is_ok(), ok, "{quantity}");
        }
        let errors = add_to_cart(&fields(&[("quantity", "0")])).unwrap_err();
        assert_eq!(names(&errors), ["Quantity", "ProductID"]);
        assert_eq!(
            errors[0].to_string(),
            "Field 'Quantity' is invalid: is required"
        );
    }

    #[test]
    fn currencies_must_be_offered() {
        assert_eq!(
            currency(&fields(&[("currency_code", "EUR")])).unwrap(),
            "EUR"
        );
        for bad in ["", "ABC", "$", "CHF", "eur"] {
            let errors = currency(&fields(&[("currency_code", bad)])).unwrap_err();
            assert_eq!(names(&errors), ["Currency"], "{bad}");
        }
    }

    #[test]
    fn accepts_a_good_checkout() {
        let checkout = checkout(&fields(&good_checkout())).unwrap();
        assert_eq!(checkout.card_number, "4432801561520454");
        assert_eq!(checkout.zip_code, 94043);
        assert_eq!(checkout.card_cvv, 672);
    }

    #[test]
    fn names_every_bad_checkout_field() {
        let long = "x".repeat(129);
        let bad = [
            ("email", "not-an-email"),
            ("street_address", ""),
            ("zip_code", "0"),
            ("city", long.as_str()),
            ("state", ""),
            ("country", ""),
            ("credit_card_number", "4432801561520455"),
            ("credit_card_expiration_month", "13"),
            ("credit_card_expiration_year", "abc"),
            ("credit_card_cvv", "0"),
        ];
        let errors = checkout(&fields(&bad)).unwrap_err();
        assert_eq!(
            names(&errors),
            [
                "Email",
                "StreetAddress",
                "ZipCode",
                "City",
                "State",
                "Country",
                "CcNumber",
                "CcMonth",
                "CcYear",
                "CcCVV"
            ]
        );
    }

    #[test]
    fn checks_cards_like_upstream() {
        assert!(card_digits("5272940000751666").is_some());
        assert!(card_digits("4432 8015 6152 0454").is_some());
        assert!(card_digits("5272940000").is_none());
        assert!(card_digits("4432 80 15615 20454").is_none(), "group of two");
        assert!(card_digits("4432801561520455").is_none(), "Luhn");
        assert!(card_digits("4432a01561520454").is_none());
        assert!(card_digits("44328015615204544432").is_none(), "20 digits");
    }

    #[test]
    fn checks_emails() {
        for good in [
            "someone@example.com",
            "a.b+c@sub.example.org",
            "x@localhost",
        ] {
            assert!(is_email(good), "{good}");
        }
        for bad in [
            "",
            "@example.com",
            "a@",
            "a@@b",
            "a b@c.d",
            "a..b@c.d",
            "a@-c.d",
            "a@c..d",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn checks_order_pages() {
        assert_eq!(
            orders_page(&fields(&[])).unwrap(),
            OrdersPage {
                page_size: DEFAULT_PAGE_SIZE,
                page_token: String::new()
            }
        );
        let page = orders_page(&fields(&[("page_size", "100"), ("page_token", "17:ab-cd")]));
        assert_eq!(
            page.unwrap(),
            OrdersPage {
                page_size: 100,
                page_token: "17:ab-cd".to_owned()
            }
        );
        for bad in ["0", "101", "-1", "ten", "1.5", "99999999999"] {
            let errors = orders_page(&fields(&[("page_size", bad)])).unwrap_err();
            assert_eq!(names(&errors), ["page_size"], "{bad}");
        }
        let long = "7".repeat(MAX_PAGE_TOKEN_LEN + 1);
        for bad in [long.as_str(), "a b", "\u{e9}t\u{e9}", "a\tb"] {
            let errors = orders_page(&fields(&[("page_token", bad)])).unwrap_err();
            assert_eq!(names(&errors), ["page_token"], "{bad}");
        }
        let both = orders_page(&fields(&[("page_size", "0"), ("page_token", "a b")]));
        assert_eq!(names(&both.unwrap_err()), ["page_size", "page_token"]);
    }

    #[test]
    fn order_ids_are_hyphenated_uuids() {
        let id = "0b6f5a8e-4f38-4c43-9d3f-2f0f2f7b9a11";
        assert_eq!(order_id(id).as_deref(), Some(id));
        assert_eq!(order_id(&id.to_uppercase()).as_deref(), Some(id));
        for bad in [
            "",
            "1",
            "0b6f5a8e4f384c439d3f2f0f2f7b9a11",
            "{0b6f5a8e-4f38-4c43-9d3f-2f0f2f7b9a11}",
            "urn:uuid:0b6f5a8e-4f38-4c43-9d3f-2f0f2f7b9a11",
            "0b6f5a8e-4f38-4c43-9d3f-2f0f2f7b9a1g",
            "../../etc/passwd",
        ] {
            assert_eq!(order_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn first_value_wins() {
        let form = fields(&[("quantity", "2"), ("quantity", "11"), ("product_id", "X")]);
        assert_eq!(add_to_cart(&form).unwrap().quantity, 2);
    }
}
