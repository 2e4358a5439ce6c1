//! The storefront's forms and query strings: the input is a urlencoded body
//! (add to cart, checkout, set currency), read through axum's `Form`
//! extractor as the page handlers read it, and the same text as the query
//! string of an orders page; every form check runs on what decodes.
//!
//! Properties: no panic; what a check accepts satisfies the rule it states
//! (quantity 1 to 10 and a product id; the checkout's card passes Luhn and
//! is 12 to 19 digits, month 1 to 12, non-zero zip, year and CVV, text
//! fields within their lengths, an order key is a UUID; a currency the
//! header offers; a page size 1 to 100 and a printable token); a refusal
//! names at least one field; a body that is not a form reads as an empty one.
#![no_main]

use boutique_frontend::{fuzzing, price, validate};
use libfuzzer_sys::fuzz_target;

fn check_fields(fields: &validate::Fields) {
    match validate::add_to_cart(fields) {
        Ok(add) => {
            assert!((1..=validate::MAX_QUANTITY).contains(&i64::from(add.quantity)));
            assert!(validate::is_product_id(&add.product_id));
            assert_eq!(add.product_id, fields.get("product_id"));
        }
        Err(errors) => assert!(!errors.is_empty()),
    }
    match validate::currency(fields) {
        Ok(code) => assert!(price::is_offered(&code)),
        Err(errors) => assert_eq!(errors.len(), 1),
    }
    match validate::checkout(fields) {
        Ok(checkout) => {
            assert!(validate::is_email(&checkout.email));
            assert_eq!(
                validate::card_digits(&checkout.card_number).as_deref(),
                Some(checkout.card_number.as_str())
            );
            assert!((12..=19).contains(&checkout.card_number.len()));
            assert!((1..=12).contains(&checkout.card_month));
            assert!(checkout.zip_code != 0 && checkout.card_year != 0 && checkout.card_cvv != 0);
            for (text, max) in [
                (&checkout.street_address, 512),
                (&checkout.city, 128),
                (&checkout.state, 128),
                (&checkout.country, 128),
            ] {
                assert!(!text.is_empty() && text.chars().count() <= max, "{text:?}");
                assert_eq!(text.trim(), text);
            }
            if let Some(key) = &checkout.order_key {
                assert!(key.len() >= 32, "{key:?} is no UUID");
            }
        }
        Err(errors) => {
            assert!(!errors.is_empty());
            for error in &errors {
                assert!(error.to_string().starts_with("Field '"));
            }
        }
    }
    match validate::orders_page(fields) {
        Ok(page) => {
            assert!((1..=validate::MAX_PAGE_SIZE).contains(&page.page_size));
            assert!(page.page_token.len() <= 128);
            assert!(page.page_token.bytes().all(|b| b.is_ascii_graphic()));
        }
        Err(errors) => assert!(!errors.is_empty()),
    }
    if let Some(id) = validate::order_id(fields.get("id")) {
        assert_eq!(validate::order_id(&id).as_deref(), Some(id.as_str()));
        assert_eq!(id, id.to_lowercase());
    }
}

fuzz_target!(|data: &[u8]| {
    match fuzzing::form("application/x-www-form-urlencoded", data) {
        Ok(fields) => check_fields(&fields),
        Err(text) => assert!(!text.is_empty()),
    }
    // A body of another type reads as an empty form, as upstream.
    let other = fuzzing::form("text/plain", data).expect("an empty form");
    assert!(validate::add_to_cart(&other).is_err());
    if let Ok(text) = std::str::from_utf8(data)
        && let Some(query) = fuzzing::query(text)
    {
        match query {
            Ok(fields) => {
                check_fields(&fields);
                let _ = fuzzing::api_page(&fields, usize::from(data.first().copied().unwrap_or(9)));
            }
            Err(text) => assert!(!text.is_empty()),
        }
    }
});
