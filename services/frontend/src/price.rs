//! Prices as shoppers read them, and the currencies the header offers.
//!
//! The text keeps upstream's shape (symbol, whole units, two digits of the
//! nanos truncated, e.g. EUR 17/682441398 -> `€17.68`) so pages read the same,
//! but it is computed from integers, never floats.

use boutique_money::Money;

/// The currencies the header offers, upstream's whitelist. The switcher shows
/// those the currency service supports, in the service's order.
pub const WHITELIST: [&str; 6] = ["USD", "EUR", "CAD", "JPY", "GBP", "TRY"];

/// The currency of a new session.
pub const DEFAULT_CURRENCY: &str = "USD";

/// True when `code` is one a shopper may choose.
pub fn is_offered(code: &str) -> bool {
    WHITELIST.contains(&code)
}

/// The symbol shown before an amount; upstream falls back to `$`.
pub fn symbol(code: &str) -> &'static str {
    match code {
        "EUR" => "€",
        "JPY" => "¥",
        "GBP" => "£",
        "TRY" => "₺",
        _ => "$",
    }
}

/// `€17.68`: the symbol, the units and two truncated digits of the nanos.
pub fn format(money: &Money) -> String {
    let sign = if money.is_negative() { "-" } else { "" };
    let cents = money.nanos().unsigned_abs() / 10_000_000;
    format!(
        "{sign}{}{}.{cents:02}",
        symbol(money.currency_code()),
        money.units().unsigned_abs()
    )
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

    fn money(code: &str, units: i64, nanos: i32) -> Money {
        Money::new(code, units, nanos).unwrap()
    }

    #[test]
    fn formats_like_upstream() {
        assert_eq!(format(&money("EUR", 17, 682_441_398)), "€17.68");
        assert_eq!(format(&money("USD", 8, 990_000_000)), "$8.99");
        assert_eq!(format(&money("CAD", 26, 749_997_346)), "$26.74");
        assert_eq!(format(&money("JPY", 2235, 60_592_707)), "¥2235.06");
        assert_eq!(format(&money("GBP", 19, 3_894_736)), "£19.00");
        assert_eq!(format(&money("TRY", 0, 0)), "₺0.00");
        assert_eq!(format(&money("CHF", 1, 5)), "$1.00");
        assert_eq!(format(&money("USD", -1, -750_000_000)), "-$1.75");
    }

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
}
