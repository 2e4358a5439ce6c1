//! Prices as shoppers read them: `$8.99`, `€17.68`, `¥1200`, `CHF 12.30`.
//!
//! This is the one formatter for money shown to a person: the storefront's
//! pages, the confirmation email and the REST API all use it. It shows an
//! amount rounded to its currency's minor unit by the crate's one rule
//! (see [`Money::round_to_minor_unit`]), with exactly as many decimals as the
//! currency has (none for JPY). So an amount already rounded (every price
//! checkout charges) is shown exactly, and one not yet rounded (a converted
//! catalog price on a product page) shows what checkout will charge for it.
//! Upstream truncated to two decimals instead, which could show a shopper a
//! cent less than the charge and showed yen with a fraction.
//!
//! The symbols are the shop's, for the currencies its header offers (CAD
//! shares `$` with USD, as upstream). Every other currency is shown by its
//! code (`CHF 12.30`): upstream's storefront fell back to `$`, which claims
//! dollars for an amount that is not in dollars, while a code cannot be
//! misread.

use crate::{
    Money,
    minor::{minor_unit_digits, nanos_per_minor_unit, to_minor_units},
};

/// The symbol the shop writes before an amount in `code`, if it has one.
pub fn symbol(code: &str) -> Option<&'static str> {
    match code {
        "USD" | "CAD" => Some("$"),
        "EUR" => Some("€"),
        "JPY" => Some("¥"),
        "GBP" => Some("£"),
        "TRY" => Some("₺"),
        _ => None,
    }
}

/// The price text of `money`: `-` for amounts below zero, the symbol (or the
/// code and a space), the whole units, then the minor units if the currency
/// has any: `€17.68`, `¥1200`, `-$1.50`, `CHF 12.30`.
pub fn format_price(money: &Money) -> String {
    let code = money.currency_code();
    let step = i128::from(nanos_per_minor_unit(code));
    // In i128 the rounded count cannot overflow, even for the largest amount.
    let minor_units = to_minor_units(money.total_nanos(), step);
    let sign = if minor_units < 0 { "-" } else { "" };
    let digits = minor_unit_digits(code);
    let per_unit = 10u128.pow(digits);
    let magnitude = minor_units.unsigned_abs();
    let (whole, fraction) = (magnitude / per_unit, magnitude % per_unit);
    let amount = if digits == 0 {
        whole.to_string()
    } else {
        format!("{whole}.{fraction:0width$}", width = digits as usize)
    };
    match symbol(code) {
        Some(symbol) => format!("{sign}{symbol}{amount}"),
        None => format!("{sign}{code} {amount}"),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn price(code: &str, units: i64, nanos: i32) -> String {
        format_price(&Money::new(code, units, nanos).unwrap())
    }

    #[test]
    fn shows_the_symbol_and_the_minor_units() {
        assert_eq!(price("EUR", 17, 682_441_398), "€17.68");
        assert_eq!(price("USD", 8, 990_000_000), "$8.99");
        assert_eq!(price("CAD", 0, 50_000_000), "$0.05");
        assert_eq!(price("GBP", 19, 3_894_736), "£19.00");
        assert_eq!(price("TRY", 0, 0), "₺0.00");
        assert_eq!(price("USD", -1, -500_000_000), "-$1.50");
    }

    #[test]
    fn yen_won_and_kronur_have_no_decimals() {
        assert_eq!(price("JPY", 1200, 0), "¥1200");
        assert_eq!(price("JPY", 2235, 60_592_707), "¥2235");
        assert_eq!(price("JPY", 2235, 500_000_000), "¥2236");
        assert_eq!(price("KRW", 22_544, 0), "KRW 22544");
        assert_eq!(price("ISK", -3, 0), "-ISK 3");
    }

    #[test]
    fn rounds_rather_than_truncates() {
        // Upstream showed $26.74 for CAD 26.749997346; checkout charges $26.75.
        assert_eq!(price("CAD", 26, 749_997_346), "$26.75");
        assert_eq!(price("USD", 0, 5_000_000), "$0.01");
        assert_eq!(price("USD", 1, 999_999_999), "$2.00");
        // Less than half a cent below zero is zero, not "-$0.00".
        assert_eq!(price("USD", 0, -4_999_999), "$0.00");
        assert_eq!(price("USD", 0, -5_000_000), "-$0.01");
    }

    #[test]
    fn other_currencies_are_shown_by_their_code() {
        assert_eq!(price("CHF", 12, 300_000_000), "CHF 12.30");
        assert_eq!(price("CHF", -12, -300_000_000), "-CHF 12.30");
        assert_eq!(price("BHD", 1, 234_500_000), "BHD 1.235");
        assert_eq!(symbol("CHF"), None);
        assert_eq!(symbol("JPY"), Some("¥"));
    }

    #[test]
    fn the_largest_amounts_do_not_overflow() {
        assert_eq!(
            price("USD", i64::MIN, -999_999_999),
            "-$9223372036854775809.00"
        );
        assert_eq!(price("JPY", i64::MAX, 400_000_000), "¥9223372036854775807");
    }

    fn any_amount() -> impl Strategy<Value = Money> {
        let code = prop::sample::select(vec!["USD", "EUR", "JPY", "GBP", "CHF", "BHD"]);
        (
            code,
            -1_000_000_000_000i64..1_000_000_000_000,
            0..1_000_000_000i32,
        )
            .prop_map(|(code, units, nanos)| {
                let nanos = if units < 0 { -nanos } else { nanos };
                Money::new(code, units, nanos).unwrap()
            })
    }

    /// Reads a price text back into nanos.
    fn parse(text: &str, code: &str) -> i128 {
        let (sign, rest) = match text.strip_prefix('-') {
            Some(rest) => (-1, rest),
            None => (1, text),
        };
        let digits = match symbol(code) {
            Some(symbol) => rest.strip_prefix(symbol).unwrap(),
            None => rest.strip_prefix(code).unwrap().strip_prefix(' ').unwrap(),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        assert_eq!(fraction.len(), minor_unit_digits(code) as usize, "{text}");
        let whole: i128 = whole.parse().unwrap();
        let fraction: i128 = if fraction.is_empty() {
            0
        } else {
            fraction.parse().unwrap()
        };
        let nanos_per_digit = i128::from(nanos_per_minor_unit(code));
        sign * (whole * 1_000_000_000 + fraction * nanos_per_digit)
    }

    proptest! {
        #[test]
        fn the_text_is_the_rounded_amount(a in any_amount()) {
            let rounded = a.round_to_minor_unit().unwrap();
            let text = format_price(&a);
            prop_assert_eq!(&text, &format_price(&rounded));
            prop_assert_eq!(parse(&text, a.currency_code()), rounded.total_nanos());
        }
    }
}
