//! The rate table and the conversion rule, with no gRPC in sight, so the
//! frontend (or anything else) can convert with the same numbers and rounding.
//!
//! A table is a small CSV: `#` comment lines, the header `code,per_eur`, then
//! one `CODE,rate` line per currency, where the rate is units of that currency
//! per 1 EUR written as a plain decimal (`1.1305`). Order is kept: it is the
//! order `GetSupportedCurrencies` answers with.

use std::{collections::HashMap, fmt};

use boutique_money::{Money, MoneyError, Rate, RateError, validate_code};

/// The built-in table: the ECB reference rates upstream ships, in upstream order.
pub const BUILTIN_CSV: &str = include_str!("../data/currency-rates.csv");

/// The header line a table starts with (after any comments).
pub const HEADER: &str = "code,per_eur";

/// The most decimal places a rate may have. Conversion scales both rates to
/// a common denominator in `u128`; 18 places (with at most 18 significant
/// digits, which [`Rate`] enforces) keeps that far from overflow.
const MAX_SCALE: u32 = 18;

/// Why a rate table was rejected. Line numbers count from 1, comments included.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RatesError {
    /// Nothing but blank lines and comments.
    #[error("no header: expected a first line {HEADER:?}")]
    MissingHeader,
    /// The first data line is not the header.
    #[error("line {line}: expected the header {HEADER:?}, found {found:?}")]
    BadHeader { line: usize, found: String },
    /// A line that is not two comma-separated fields.
    #[error("line {line}: expected `CODE,rate`, found {found:?}")]
    BadLine { line: usize, found: String },
    /// A code that is not three capital ASCII letters.
    #[error("line {line}: currency code {code:?} is not three capital letters")]
    BadCode { line: usize, code: String },
    /// A code listed twice.
    #[error("line {line}: currency code {code} is listed twice (first on line {first})")]
    DuplicateCode {
        line: usize,
        code: String,
        first: usize,
    },
    /// A rate that is not a positive decimal of sensible precision.
    #[error("line {line}: bad rate for {code}: {source}")]
    BadRate {
        line: usize,
        code: String,
        source: RateError,
    },
    /// No EUR line: every rate is relative to the euro.
    #[error("EUR is missing: rates are per euro, so the table must list EUR with rate 1")]
    MissingEur,
    /// EUR with a rate other than 1.
    #[error("EUR has rate {rate}; rates are per euro, so it must be 1")]
    EurNotOne { rate: Rate },
}

/// Why an amount could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// The amount's currency is not in the table.
    #[error("cannot convert from {0:?}: not a supported currency code")]
    UnsupportedFrom(String),
    /// The target currency is not in the table.
    #[error("cannot convert to {0:?}: not a supported currency code")]
    UnsupportedTo(String),
    /// The result does not fit in `Money` (its message is "amount out of range").
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// A validated, ordered table of EUR-based rates.
#[derive(Clone, PartialEq, Eq)]
pub struct Rates {
    /// Codes and rates in file order.
    entries: Vec<(String, Rate)>,
    /// Code to position in `entries`, so a lookup does not scan the list.
    index: HashMap<String, usize>,
}

impl Rates {
    /// The built-in table ([`BUILTIN_CSV`]).
    pub fn builtin() -> Result<Self, RatesError> {
        Self::parse(BUILTIN_CSV)
    }

    /// Parses and validates a table: a header, then codes of three capital
    /// letters, each once, with positive rates; EUR present with rate 1.
    pub fn parse(text: &str) -> Result<Self, RatesError> {
        // Spreadsheet exports often start with a byte-order mark.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(i, line)| (i + 1, line.trim()))
            .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'));

        let (line, header) = lines.next().ok_or(RatesError::MissingHeader)?;
        let fields: Vec<&str> = header.split(',').map(str::trim).collect();
        if fields != ["code", "per_eur"] {
            return Err(RatesError::BadHeader {
                line,
                found: header.to_owned(),
            });
        }

        let mut entries: Vec<(String, Rate)> = Vec::new();
        let mut index = HashMap::new();
        let mut first_seen: HashMap<String, usize> = HashMap::new();
        for (line, text) in lines {
            let bad_line = || RatesError::BadLine {
                line,
                found: text.to_owned(),
            };
            let (code, rate_text) = text.split_once(',').ok_or_else(bad_line)?;
            if rate_text.contains(',') {
                return Err(bad_line());
            }
            let (code, rate_text) = (code.trim(), rate_text.trim());
            if validate_code(code).is_err() {
                return Err(RatesError::BadCode {
                    line,
                    code: code.to_owned(),
                });
            }
            if let Some(&first) = first_seen.get(code) {
                return Err(RatesError::DuplicateCode {
                    line,
                    code: code.to_owned(),
                    first,
                });
            }
            let bad_rate = |source| RatesError::BadRate {
                line,
                code: code.to_owned(),
                source,
            };
            let rate: Rate = rate_text.parse().map_err(bad_rate)?;
            if rate.parts().1 > MAX_SCALE {
                return Err(bad_rate(RateError::TooPrecise(rate_text.to_owned())));
            }
            first_seen.insert(code.to_owned(), line);
            index.insert(code.to_owned(), entries.len());
            entries.push((code.to_owned(), rate));
        }

        let rates = Self { entries, index };
        match rates.rate("EUR") {
            None => Err(RatesError::MissingEur),
            // Parsing drops redundant zeros, so 1, 1.0 and 01.000 all read as (1, 0).
            Some(rate) if rate.parts() != (1, 0) => Err(RatesError::EurNotOne { rate }),
            Some(_) => Ok(rates),
        }
    }

    /// The supported codes, in table order.
    pub fn supported(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.entries.iter().map(|(code, _)| code.as_str())
    }

    /// Whether `code` is in the table (exact, case-sensitive).
    pub fn is_supported(&self, code: &str) -> bool {
        self.index.contains_key(code)
    }

    /// Units of `code` per 1 EUR.
    pub fn rate(&self, code: &str) -> Option<Rate> {
        let &position = self.index.get(code)?;
        self.entries.get(position).map(|(_, rate)| *rate)
    }

    /// Converts `amount` into `to_code`: `amount × rate(to) / rate(from)`,
    /// computed exactly and rounded once to the nearest nano, halves away from
    /// zero (so `convert(-x) == -convert(x)`). The same currency gives the
    /// amount back unchanged. Both codes must be in the table.
    pub fn convert(&self, amount: &Money, to_code: &str) -> Result<Money, ConvertError> {
        let from_code = amount.currency_code();
        let from = self
            .rate(from_code)
            .ok_or_else(|| ConvertError::UnsupportedFrom(from_code.to_owned()))?;
        let to = self
            .rate(to_code)
            .ok_or_else(|| ConvertError::UnsupportedTo(to_code.to_owned()))?;
        if from_code == to_code {
            return Ok(amount.clone());
        }
        Ok(amount.convert(&from, &to, to_code)?)
    }
}

/// Shows the table as `{code: rate}` in order.
impl fmt::Debug for Rates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(code, rate)| (code, rate)))
            .finish()
    }
}

#[cfg(test)]
mod tests;
