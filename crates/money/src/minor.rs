//! Each currency's minor unit, and rounding an amount to it.
//!
//! The minor unit is the smallest amount a currency is written and paid in:
//! a cent for USD and EUR (ISO 4217 exponent 2), a whole yen for JPY and a
//! whole króna for ISK (exponent 0), a fils for BHD (exponent 3). The
//! exponents come from the ISO 4217 list as the `iso_currency` crate carries
//! it. A code that list does not know, or one without a minor unit (`XAU`,
//! `XXX`), is taken to have two decimals, the common case.
//!
//! Rounding follows the crate's one rule (the one conversion uses): to the
//! nearest minor unit, halves away from zero. Prices are rounded once, where
//! they enter an order (a converted unit price, a converted shipping cost);
//! everything computed from them after that is exact, so the lines a shopper
//! is shown add up to the total that is charged.

use std::{
    collections::HashMap,
    sync::{LazyLock, PoisonError, RwLock},
};

use iso_currency::Currency;

use crate::{Money, MoneyError, NANOS_PER_UNIT};

/// Exponents already looked up: the ISO 4217 lookup compares the code with
/// each of some 180 names, and pages format a dozen prices each. Only
/// three-letter codes are kept, so the map stays small whatever is asked.
static LOOKED_UP: LazyLock<RwLock<HashMap<String, u32>>> = LazyLock::new(RwLock::default);

/// Decimals for a code ISO 4217 does not give a minor unit for.
const DEFAULT_DIGITS: u32 = 2;

/// Nanos have nine digits, so no minor unit can be finer (ISO's finest is four).
const MAX_DIGITS: u32 = 9;

/// The number of decimals of `code`'s minor unit (its ISO 4217 exponent):
/// 2 for USD, 0 for JPY, 3 for BHD; 2 for a code ISO 4217 gives none.
pub fn minor_unit_digits(code: &str) -> u32 {
    if let Some(digits) = LOOKED_UP
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(code)
    {
        return *digits;
    }
    let digits = Currency::from_code(code)
        .and_then(Currency::exponent)
        .map_or(DEFAULT_DIGITS, u32::from)
        .min(MAX_DIGITS);
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        LOOKED_UP
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(code.to_owned(), digits);
    }
    digits
}

/// Nanos in one minor unit of `code`: 10 000 000 for a cent, 10⁹ for a yen.
pub fn nanos_per_minor_unit(code: &str) -> i64 {
    NANOS_PER_UNIT / 10i64.pow(minor_unit_digits(code))
}

impl Money {
    /// The amount rounded to its currency's minor unit (the cent, the yen),
    /// halves away from zero: `17.685 EUR` becomes `17.69 EUR`, `2235.5 JPY`
    /// becomes `2236 JPY`. Rounding an amount already in minor units changes
    /// nothing. Fails only if rounding up passes the largest amount.
    pub fn round_to_minor_unit(&self) -> Result<Self, MoneyError> {
        let step = i128::from(nanos_per_minor_unit(self.currency_code()));
        let minor_units = to_minor_units(self.total_nanos(), step);
        Self::from_total_nanos(self.currency_code(), minor_units * step)
    }

    /// True when the amount is a whole number of minor units (no fraction of
    /// a cent): what [`Money::round_to_minor_unit`] returns, and what may be
    /// charged.
    pub fn is_in_minor_units(&self) -> bool {
        let step = i128::from(nanos_per_minor_unit(self.currency_code()));
        self.total_nanos() % step == 0
    }
}

/// `nanos / step`, rounded to the nearest integer, halves away from zero.
/// `step` is at most 10⁹ and `nanos` a valid amount's, so nothing overflows.
pub(crate) fn to_minor_units(nanos: i128, step: i128) -> i128 {
    let (quotient, remainder) = (nanos / step, nanos % step);
    if 2 * remainder.abs() >= step {
        quotient + nanos.signum()
    } else {
        quotient
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::UPSTREAM_CURRENCIES;

    fn money(code: &str, units: i64, nanos: i32) -> Money {
        Money::new(code, units, nanos).unwrap()
    }

    /// The ISO 4217 exponents of every currency the shop converts to
    /// (services/currency/data/currency-rates.csv), written out here.
    #[test]
    fn knows_the_iso_minor_unit_of_every_shop_currency() {
        for code in UPSTREAM_CURRENCIES {
            let expected = if matches!(code, "JPY" | "ISK" | "KRW") {
                0
            } else {
                2
            };
            assert_eq!(minor_unit_digits(code), expected, "{code}");
        }
        // Beyond the shop's list: three and four decimals, and codes without one.
        assert_eq!(minor_unit_digits("BHD"), 3);
        assert_eq!(minor_unit_digits("KWD"), 3);
        assert_eq!(minor_unit_digits("CLF"), 4);
        assert_eq!(minor_unit_digits("XAU"), 2);
        assert_eq!(minor_unit_digits("ZZZ"), 2);
        assert_eq!(nanos_per_minor_unit("USD"), 10_000_000);
        assert_eq!(nanos_per_minor_unit("JPY"), 1_000_000_000);
        assert_eq!(nanos_per_minor_unit("BHD"), 1_000_000);
    }

    #[test]
    fn rounds_to_the_cent_halves_away_from_zero() {
        let round = |code, units, nanos| {
            let rounded = money(code, units, nanos).round_to_minor_unit().unwrap();
            (rounded.units(), rounded.nanos())
        };
        assert_eq!(round("EUR", 17, 682_441_398), (17, 680_000_000));
        assert_eq!(round("EUR", 17, 685_000_000), (17, 690_000_000));
        assert_eq!(round("EUR", 17, 684_999_999), (17, 680_000_000));
        assert_eq!(round("EUR", -17, -685_000_000), (-17, -690_000_000));
        assert_eq!(round("USD", 0, 4_999_999), (0, 0));
        assert_eq!(round("USD", 0, -5_000_000), (0, -10_000_000));
        assert_eq!(round("USD", 0, 995_000_000), (1, 0));
        assert_eq!(round("USD", 8, 990_000_000), (8, 990_000_000));
        assert_eq!(round("JPY", 2235, 60_592_707), (2235, 0));
        assert_eq!(round("JPY", 2235, 500_000_000), (2236, 0));
        assert_eq!(round("BHD", 1, 234_500_000), (1, 235_000_000));
        assert!(money("USD", 8, 990_000_000).is_in_minor_units());
        assert!(!money("USD", 8, 990_000_001).is_in_minor_units());
        assert!(money("JPY", 8, 0).is_in_minor_units());
        assert!(!money("JPY", 8, 10_000_000).is_in_minor_units());
    }

    #[test]
    fn rounding_past_the_largest_amount_is_an_error() {
        assert_eq!(
            money("USD", i64::MAX, 995_000_000).round_to_minor_unit(),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            money("USD", i64::MIN, -995_000_000).round_to_minor_unit(),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            money("USD", i64::MAX, 994_999_999).round_to_minor_unit(),
            Ok(money("USD", i64::MAX, 990_000_000))
        );
    }

    fn any_amount() -> impl Strategy<Value = Money> {
        let code = prop::sample::select(vec!["USD", "EUR", "JPY", "KRW", "BHD", "CLF"]);
        (code, any::<i64>(), 0..1_000_000_000i32).prop_map(|(code, units, nanos)| {
            let nanos = if units < 0 { -nanos } else { nanos };
            money(code, units, nanos)
        })
    }

    proptest! {
        #[test]
        fn rounding_is_to_the_nearest_minor_unit(a in any_amount()) {
            let step = i128::from(nanos_per_minor_unit(a.currency_code()));
            // The same rule, written another way: add half a step to the
            // magnitude and drop the remainder.
            let half_up = (a.total_nanos().abs() + step / 2) / step * step;
            let expected = if a.is_negative() { -half_up } else { half_up };
            match a.round_to_minor_unit() {
                Ok(rounded) => {
                    prop_assert_eq!(rounded.total_nanos(), expected);
                    prop_assert!(rounded.is_in_minor_units());
                    prop_assert!(2 * (rounded.total_nanos() - a.total_nanos()).abs() <= step);
                    prop_assert_eq!(rounded.round_to_minor_unit(), Ok(rounded.clone()));
                    prop_assert_eq!(rounded.currency_code(), a.currency_code());
                }
                Err(e) => {
                    prop_assert_eq!(e, MoneyError::Overflow);
                    prop_assert!(expected / i128::from(NANOS_PER_UNIT) > i128::from(i64::MAX)
                        || expected / i128::from(NANOS_PER_UNIT) < i128::from(i64::MIN));
                }
            }
        }

        #[test]
        fn rounded_prices_times_quantities_stay_in_minor_units(a in any_amount(), quantity in 1i64..1000) {
            if let Ok(line) = a.round_to_minor_unit().and_then(|unit| unit.checked_mul(quantity)) {
                prop_assert!(line.is_in_minor_units());
            }
        }
    }
}
