//! Exchange rates as exact decimals and the one rounding rule of conversion.
//!
//! A rate is "units of a currency per one unit of the base currency" (for the
//! shop, per 1 EUR), parsed from its decimal text without ever touching a float.
//! Converting `amount` from currency A to B computes `amount × rate(B) / rate(A)`
//! exactly in integers and rounds **once**, to the nearest nano, with halves
//! rounded away from zero. Going through the base currency therefore adds no
//! intermediate rounding.

use std::{fmt, str::FromStr};

use crate::MoneyError;

/// Why a rate's text was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateError {
    #[error("rate {0:?} is not a positive decimal number")]
    Malformed(String),
    #[error("rate {0:?} has too many digits")]
    TooPrecise(String),
    #[error("rate {0:?} must be greater than zero")]
    NotPositive(String),
}

/// A positive exact decimal: `mantissa / 10^scale`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    mantissa: u128,
    scale: u32,
}

/// More digits than this is not a rate anyone publishes, and keeping the
/// numbers small keeps the conversion arithmetic far from overflow.
const MAX_DIGITS: usize = 18;

impl Rate {
    /// The rate as its decimal parts: `mantissa / 10^scale`.
    pub fn parts(&self) -> (u128, u32) {
        (self.mantissa, self.scale)
    }
}

impl FromStr for Rate {
    type Err = RateError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let malformed = || RateError::Malformed(text.to_owned());
        let (whole, fraction) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
        if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed());
        }
        if !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed());
        }
        // Trailing zeros of the fraction carry no value; dropping them keeps the
        // numbers small.
        let fraction = fraction.trim_end_matches('0');
        let digits = format!("{whole}{fraction}");
        let digits = digits.trim_start_matches('0');
        if digits.is_empty() {
            return Err(RateError::NotPositive(text.to_owned()));
        }
        if digits.len() > MAX_DIGITS {
            return Err(RateError::TooPrecise(text.to_owned()));
        }
        let mantissa = digits.parse().map_err(|_| malformed())?;
        let scale =
            u32::try_from(fraction.len()).map_err(|_| RateError::TooPrecise(text.to_owned()))?;
        Ok(Self { mantissa, scale })
    }
}

impl fmt::Debug for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Rate({self})")
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.mantissa.to_string();
        let scale = self.scale as usize;
        if scale == 0 {
            return f.write_str(&digits);
        }
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (whole, fraction) = padded.split_at(padded.len() - scale);
        write!(f, "{whole}.{fraction}")
    }
}

/// `nanos × to / from`, rounded to the nearest integer, halves away from zero.
pub(crate) fn convert_nanos(nanos: i128, from: &Rate, to: &Rate) -> Result<i128, MoneyError> {
    // amount × (to.m / 10^to.s) / (from.m / 10^from.s)
    //   = amount × (to.m × 10^from.s) / (from.m × 10^to.s)
    let numerator = to
        .mantissa
        .checked_mul(pow10(from.scale)?)
        .ok_or(MoneyError::Overflow)?;
    let denominator = from
        .mantissa
        .checked_mul(pow10(to.scale)?)
        .ok_or(MoneyError::Overflow)?;
    let magnitude = nanos.unsigned_abs();

    // Split the amount so no intermediate product is larger than the result
    // needs: a × n / d = (a / d) × n + (a % d) × n / d.
    let quotient = magnitude / denominator;
    let remainder = magnitude % denominator;
    let whole = quotient
        .checked_mul(numerator)
        .ok_or(MoneyError::Overflow)?;
    let part = remainder
        .checked_mul(numerator)
        .ok_or(MoneyError::Overflow)?;
    let mut result = whole
        .checked_add(part / denominator)
        .ok_or(MoneyError::Overflow)?;
    let leftover = part % denominator;
    // Half or more rounds up: leftover ≥ denominator − leftover. Doubling
    // leftover instead could overflow once the denominator passes u128::MAX / 2.
    if leftover >= denominator - leftover {
        result = result.checked_add(1).ok_or(MoneyError::Overflow)?;
    }
    let result = i128::try_from(result).map_err(|_| MoneyError::Overflow)?;
    Ok(if nanos < 0 { -result } else { result })
}

fn pow10(exponent: u32) -> Result<u128, MoneyError> {
    10u128.checked_pow(exponent).ok_or(MoneyError::Overflow)
}
