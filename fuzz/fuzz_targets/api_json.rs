//! The REST API's JSON bodies (`services/frontend/src/api/`): the input is a
//! request body, read as `ApiJson` reads it and checked as the handlers of
//! `POST /api/v1/cart/items`, `POST /api/v1/checkout`,
//! `PUT /api/v1/products/{id}/ratings/mine`, `POST /api/v1/accounts` and
//! `POST /api/v1/sessions` check it; its first line is also tried as an
//! `Idempotency-Key` header.
//!
//! Properties: no panic; an accepted item is a product id and 1 to 10; an
//! accepted checkout satisfies the checkout form's rules; an accepted rating
//! has 1 to 5 stars and a trimmed review of at most 2000 characters without
//! carriage returns; accepted credentials are not blank; a refusal never
//! echoes a value the body holds (the card number, a field's value), only
//! pointers to it; an accepted key is 1 to 255 visible ASCII
//! characters.
#![no_main]

use boutique_frontend::{fuzzing, validate};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// String values of the document (not keys: a pointer names those).
fn values(value: &Value, keys: &mut Vec<String>, found: &mut Vec<String>) {
    match value {
        Value::String(s) => found.push(s.clone()),
        Value::Number(n) => found.push(n.to_string()),
        Value::Array(items) => items.iter().for_each(|item| values(item, keys, found)),
        Value::Object(fields) => {
            for (key, field) in fields {
                keys.push(key.clone());
                values(field, keys, found);
            }
        }
        _ => {}
    }
}

/// A refusal's text must not hold a value of the body: checked for values
/// with six digits or more (card numbers, CVVs, zip codes, phone-like text),
/// which no message of ours contains by itself.
fn no_echo(body: &[u8], refusal: &str) {
    let Ok(document) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let (mut keys, mut found) = (Vec::new(), Vec::new());
    values(&document, &mut keys, &mut found);
    for value in found {
        let echoed = value.bytes().filter(u8::is_ascii_digit).count() >= 6
            && refusal.contains(&value)
            && !keys.iter().any(|key| key.contains(&value));
        assert!(!echoed, "{value:?} is echoed in {refusal}");
    }
}

fuzz_target!(|data: &[u8]| {
    match fuzzing::api_add_cart_item(data) {
        Ok((product_id, quantity)) => {
            assert!(validate::is_product_id(&product_id));
            assert!((1..=10).contains(&quantity));
        }
        Err(refusal) => no_echo(data, &refusal),
    }
    match fuzzing::api_checkout(data) {
        Ok(checkout) => {
            assert!(validate::is_email(&checkout.email));
            assert!(validate::card_digits(&checkout.card_number).is_some());
            assert!((1..=12).contains(&checkout.card_month));
        }
        Err(refusal) => no_echo(data, &refusal),
    }
    match fuzzing::api_put_rating(data) {
        Ok((stars, text)) => {
            assert!((1..=5).contains(&stars));
            assert!(text.chars().count() <= fuzzing::MAX_REVIEW_CHARS);
            assert_eq!(text, text.trim());
            assert!(!text.contains('\r'));
        }
        Err(refusal) => no_echo(data, &refusal),
    }
    match fuzzing::api_credentials(data) {
        Ok((email, password)) => {
            assert!(!email.trim().is_empty() && !password.trim().is_empty());
        }
        Err(refusal) => no_echo(data, &refusal),
    }
    let line = data.split(|&b| b == b'\n').next().unwrap_or_default();
    if let Some(Ok(Some(key))) = fuzzing::api_idempotency_key(line) {
        assert!((1..=255).contains(&key.len()));
        assert!(key.bytes().all(|b| b.is_ascii_graphic()));
    }
});
