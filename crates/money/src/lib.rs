//! Money as integers: whole `units` plus `nanos` (billionths), never a float.
//!
//! The representation matches `hipstershop.Money` on the wire: `nanos` lies in
//! `-999_999_999..=999_999_999` and has the same sign as `units` (or one of them
//! is zero). Every operation is checked: overflow and currency mismatches are
//! errors, never panics or silent wrap-around.
//!
//! Each currency's minor unit (the cent, the yen) and the rounding to it are
//! in `minor`; the price text people read (`€17.68`, `¥1200`) is
//! [`format_price`], the one formatter the storefront and the emails share.

mod minor;
mod price;
mod rate;

use std::fmt;

pub use minor::{minor_unit_digits, nanos_per_minor_unit};
pub use price::{format_price, symbol};
pub use rate::{Rate, RateError};

/// The 33 currency codes of the upstream shop, in upstream order (EUR first:
/// the reference rates are per euro).
pub const UPSTREAM_CURRENCIES: [&str; 33] = [
    "EUR", "USD", "JPY", "BGN", "CZK", "DKK", "GBP", "HUF", "PLN", "RON", "SEK", "CHF", "ISK",
    "NOK", "HRK", "RUB", "TRY", "AUD", "BRL", "CAD", "CNY", "HKD", "IDR", "ILS", "INR", "KRW",
    "MXN", "MYR", "NZD", "PHP", "SGD", "THB", "ZAR",
];

/// Nanos in one unit.
pub const NANOS_PER_UNIT: i64 = 1_000_000_000;
const NANOS_PER_UNIT_I128: i128 = NANOS_PER_UNIT as i128;

/// Why an amount of money was rejected or an operation could not be done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// `nanos` is outside `-999_999_999..=999_999_999`.
    #[error("nanos {nanos} is out of range (must be within ±999999999)")]
    NanosOutOfRange { nanos: i32 },
    /// `units` and `nanos` have opposite signs.
    #[error("units {units} and nanos {nanos} have different signs")]
    SignMismatch { units: i64, nanos: i32 },
    /// The currency code is not three ASCII letters.
    #[error("currency code {code:?} is not a three-letter ISO 4217 code")]
    BadCurrencyCode { code: String },
    /// Two amounts in different currencies were combined.
    #[error("cannot combine {left} with {right}")]
    CurrencyMismatch { left: String, right: String },
    /// The result does not fit in `units: i64`.
    #[error("amount out of range")]
    Overflow,
}

/// A validated amount of money in one currency.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Money {
    currency_code: String,
    units: i64,
    nanos: i32,
}

impl Money {
    /// Validates the parts of an amount.
    pub fn new(
        currency_code: impl Into<String>,
        units: i64,
        nanos: i32,
    ) -> Result<Self, MoneyError> {
        let currency_code = currency_code.into();
        validate_code(&currency_code)?;
        validate_parts(units, nanos)?;
        Ok(Self {
            currency_code,
            units,
            nanos,
        })
    }

    /// Zero in the given currency.
    pub fn zero(currency_code: impl Into<String>) -> Result<Self, MoneyError> {
        Self::new(currency_code, 0, 0)
    }

    /// Builds an amount from a count of nanos, failing if the units overflow `i64`.
    pub fn from_total_nanos(
        currency_code: impl Into<String>,
        total: i128,
    ) -> Result<Self, MoneyError> {
        let units = i64::try_from(total / NANOS_PER_UNIT_I128).map_err(|_| MoneyError::Overflow)?;
        // |remainder| < 1e9, so it fits in i32, and it has the sign of `total`.
        let nanos = i32::try_from(total % NANOS_PER_UNIT_I128).map_err(|_| MoneyError::Overflow)?;
        Self::new(currency_code, units, nanos)
    }

    /// The ISO 4217 code.
    pub fn currency_code(&self) -> &str {
        &self.currency_code
    }

    /// The amount as a float, for telemetry only (dashboards, span
    /// attributes): never compute with it, since it rounds.
    #[allow(clippy::cast_precision_loss)]
    pub fn approximate(&self) -> f64 {
        self.units as f64 + f64::from(self.nanos) / 1e9
    }

    /// Whole units.
    pub fn units(&self) -> i64 {
        self.units
    }

    /// Billionths of a unit, with the sign of `units`.
    pub fn nanos(&self) -> i32 {
        self.nanos
    }

    /// The whole amount in nanos; exact, as `i128` holds any valid amount.
    pub fn total_nanos(&self) -> i128 {
        i128::from(self.units) * NANOS_PER_UNIT_I128 + i128::from(self.nanos)
    }

    /// True for zero.
    pub fn is_zero(&self) -> bool {
        self.units == 0 && self.nanos == 0
    }

    /// True for amounts below zero.
    pub fn is_negative(&self) -> bool {
        self.units < 0 || self.nanos < 0
    }

    /// True for amounts above zero.
    pub fn is_positive(&self) -> bool {
        self.units > 0 || self.nanos > 0
    }

    /// `self + other`; both must be in the same currency.
    pub fn checked_add(&self, other: &Self) -> Result<Self, MoneyError> {
        if self.currency_code != other.currency_code {
            return Err(MoneyError::CurrencyMismatch {
                left: self.currency_code.clone(),
                right: other.currency_code.clone(),
            });
        }
        Self::from_total_nanos(
            self.currency_code.clone(),
            self.total_nanos() + other.total_nanos(),
        )
    }

    /// `self × factor`, e.g. a unit price times a quantity.
    pub fn checked_mul(&self, factor: i64) -> Result<Self, MoneyError> {
        let total = self
            .total_nanos()
            .checked_mul(i128::from(factor))
            .ok_or(MoneyError::Overflow)?;
        Self::from_total_nanos(self.currency_code.clone(), total)
    }

    /// Sums amounts that all share `currency_code`; an empty list sums to zero.
    pub fn sum<'a>(
        currency_code: &str,
        amounts: impl IntoIterator<Item = &'a Self>,
    ) -> Result<Self, MoneyError> {
        amounts
            .into_iter()
            .try_fold(Self::zero(currency_code)?, |total, amount| {
                total.checked_add(amount)
            })
    }

    /// Converts into another currency: `self × to / from` where both rates are
    /// per one unit of the same base currency, rounded once (see [`Rate::convert`]).
    pub fn convert(&self, from: &Rate, to: &Rate, to_code: &str) -> Result<Self, MoneyError> {
        validate_code(to_code)?;
        let total = rate::convert_nanos(self.total_nanos(), from, to)?;
        Self::from_total_nanos(to_code, total)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Money({self})")
    }
}

/// Formats as `-1.750000000 USD`: all nine digits, so the value is exact.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.is_negative() { "-" } else { "" };
        write!(
            f,
            "{sign}{}.{:09} {}",
            self.units.unsigned_abs(),
            self.nanos.unsigned_abs(),
            self.currency_code
        )
    }
}

impl TryFrom<&boutique_proto::Money> for Money {
    type Error = MoneyError;

    fn try_from(wire: &boutique_proto::Money) -> Result<Self, Self::Error> {
        Self::new(wire.currency_code.clone(), wire.units, wire.nanos)
    }
}

impl TryFrom<boutique_proto::Money> for Money {
    type Error = MoneyError;

    fn try_from(wire: boutique_proto::Money) -> Result<Self, Self::Error> {
        validate_code(&wire.currency_code)?;
        validate_parts(wire.units, wire.nanos)?;
        Ok(Self {
            currency_code: wire.currency_code,
            units: wire.units,
            nanos: wire.nanos,
        })
    }
}

impl From<Money> for boutique_proto::Money {
    fn from(money: Money) -> Self {
        Self {
            currency_code: money.currency_code,
            units: money.units,
            nanos: money.nanos,
        }
    }
}

/// Checks that a code is three ASCII capital letters. Whether the code is one we
/// know is for the caller (the currency service keeps the list).
pub fn validate_code(code: &str) -> Result<(), MoneyError> {
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(MoneyError::BadCurrencyCode {
            code: code.to_owned(),
        })
    }
}

fn validate_parts(units: i64, nanos: i32) -> Result<(), MoneyError> {
    if i64::from(nanos).abs() >= NANOS_PER_UNIT {
        return Err(MoneyError::NanosOutOfRange { nanos });
    }
    if (units > 0 && nanos < 0) || (units < 0 && nanos > 0) {
        return Err(MoneyError::SignMismatch { units, nanos });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
