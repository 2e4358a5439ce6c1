//! Checks on a PlaceOrder request before anything is asked of other services.
//!
//! Upstream checked nothing and let later steps fail, some of them after the
//! card was charged (a ShipOrder without a street, for instance). Everything
//! that shipping would refuse is therefore refused here, before the charge.
//! The card itself is left to the payment service, whose reasons the shopper
//! then sees unchanged.

use std::fmt;

use boutique_platform::RpcError;
use boutique_proto::{Address, CreditCardInfo, PlaceOrderRequest};

/// A request that passed the local checks.
#[derive(Clone)]
pub(crate) struct ValidRequest {
    pub(crate) user_id: String,
    pub(crate) currency: String,
    pub(crate) address: Address,
    pub(crate) email: String,
    pub(crate) card: CreditCardInfo,
}

/// Never prints the card: the generated `Debug` of `CreditCardInfo` would.
impl fmt::Debug for ValidRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValidRequest")
            .field("user_id", &self.user_id)
            .field("currency", &self.currency)
            .field("card_last_four", &last_four(&self.card.credit_card_number))
            .finish_non_exhaustive()
    }
}

/// Checks what can be checked without other services. The currency code's
/// shape is checked here; whether the shop trades in it is asked of the
/// currency service afterwards.
pub(crate) fn validate(request: PlaceOrderRequest) -> Result<ValidRequest, RpcError> {
    if request.user_id.trim().is_empty() {
        return Err(RpcError::invalid("user_id is required"));
    }
    let currency = request.user_currency;
    if boutique_money::validate_code(&currency).is_err() {
        return Err(RpcError::invalid(format!(
            "user_currency {currency:?} is not a currency code"
        )));
    }
    let address = request
        .address
        .ok_or_else(|| RpcError::invalid("address is required"))?;
    validate_address(&address)?;
    let card = request
        .credit_card
        .ok_or_else(|| RpcError::invalid("credit_card is required"))?;
    let email = request.email.trim().to_owned();
    if email.is_empty() {
        return Err(RpcError::invalid("email is required"));
    }
    Ok(ValidRequest {
        user_id: request.user_id,
        currency,
        address,
        email,
        card,
    })
}

/// The fields the shipping service requires, checked before the charge so
/// an order is never charged and then refused by shipping.
fn validate_address(address: &Address) -> Result<(), RpcError> {
    let required = [
        ("street_address", &address.street_address),
        ("city", &address.city),
        ("country", &address.country),
    ];
    match required.iter().find(|(_, value)| value.trim().is_empty()) {
        Some((name, _)) => Err(RpcError::invalid(format!("address.{name} is required"))),
        None => Ok(()),
    }
}

/// The last four digits of a card number, if it has enough digits for the
/// last four to give nothing else away.
pub(crate) fn last_four(number: &str) -> Option<String> {
    let digits: Vec<char> = number.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 12 {
        return None;
    }
    Some(digits[digits.len() - 4..].iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Breaks one thing in a good request.
    type Spoil = fn(&mut PlaceOrderRequest);

    fn request() -> PlaceOrderRequest {
        PlaceOrderRequest {
            user_id: "shopper".into(),
            user_currency: "EUR".into(),
            address: Some(Address {
                street_address: "1 Main St".into(),
                city: "Springfield".into(),
                state: String::new(),
                country: "US".into(),
                zip_code: 12345,
            }),
            email: " someone@example.com ".into(),
            credit_card: Some(CreditCardInfo {
                credit_card_number: "4432801561520454".into(),
                credit_card_cvv: 672,
                credit_card_expiration_year: 2039,
                credit_card_expiration_month: 1,
            }),
        }
    }

    #[test]
    fn accepts_a_complete_request() {
        let valid = validate(request()).unwrap();
        assert_eq!(valid.email, "someone@example.com");
        let shown = format!("{valid:?}");
        assert!(!shown.contains("44328015"), "{shown}");
        assert!(shown.contains("0454"), "{shown}");
    }

    #[test]
    fn names_what_is_missing() {
        let cases: [(Spoil, &str); 8] = [
            (|r| r.user_id.clear(), "user_id"),
            (|r| r.user_currency = "eur".into(), "user_currency"),
            (|r| r.user_currency.clear(), "user_currency"),
            (|r| r.address = None, "address is required"),
            (
                |r| r.address.as_mut().unwrap().city = " ".into(),
                "address.city",
            ),
            (|r| r.credit_card = None, "credit_card"),
            (|r| r.email = "  ".into(), "email"),
            (
                |r| r.address.as_mut().unwrap().street_address.clear(),
                "address.street_address",
            ),
        ];
        for (spoil, expected) in cases {
            let mut bad = request();
            spoil(&mut bad);
            match validate(bad) {
                Err(RpcError::InvalidArgument(message)) => {
                    assert!(message.contains(expected), "{message}");
                }
                other => panic!("expected InvalidArgument({expected}), got {other:?}"),
            }
        }
    }

    #[test]
    fn shows_at_most_the_last_four() {
        assert_eq!(last_four("4432-8015-6152-0454").as_deref(), Some("0454"));
        assert_eq!(last_four("12345"), None);
        assert_eq!(last_four(""), None);
    }
}
