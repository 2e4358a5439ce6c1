//! The currencies the header offers.
//!
//! Price text itself is [`boutique_money::format_price`], shared with the
//! confirmation email: symbol, whole units and the currency's minor units,
//! rounded (`€17.68`, `¥2235`).

/// The currencies the header offers, upstream's whitelist. The switcher shows
/// those the currency service supports, in the service's order.
pub const WHITELIST: [&str; 6] = ["USD", "EUR", "CAD", "JPY", "GBP", "TRY"];

/// The currency of a new session.
pub const DEFAULT_CURRENCY: &str = "USD";

/// True when `code` is one a shopper may choose.
pub fn is_offered(code: &str) -> bool {
    WHITELIST.contains(&code)
}

/// The supported codes the header offers, in the service's order.
pub fn offered(supported: &[String]) -> Vec<String> {
    supported
        .iter()
        .filter(|code| is_offered(code))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_the_whitelist_in_service_order() {
        let supported: Vec<String> = boutique_money::UPSTREAM_CURRENCIES
            .iter()
            .map(|code| (*code).to_owned())
            .collect();
        assert_eq!(
            offered(&supported),
            ["EUR", "USD", "JPY", "GBP", "TRY", "CAD"]
        );
        assert!(is_offered("EUR") && !is_offered("CHF") && !is_offered("usd"));
    }

    #[test]
    fn every_offered_currency_has_a_symbol() {
        for code in WHITELIST {
            assert!(boutique_money::symbol(code).is_some(), "{code}");
        }
    }
}
