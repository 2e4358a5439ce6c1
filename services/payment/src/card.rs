//! Card number checks: normalisation, Luhn, brand by prefix and allowed lengths.
//!
//! The rules follow the validator upstream uses (first matching prefix wins, a
//! number is valid only if it passes Luhn *and* has a length its brand allows,
//! an unknown brand is invalid), with two deliberate differences: Visa
//! Electron prefixes are plain Visa, so they are accepted, and Mastercard's
//! 2-series (`2221..=2720`) is recognised.
//!
//! A [`CardNumber`] keeps only the brand and the last four digits, never the
//! full number, so nothing built from it (logs, errors, `Debug`) can leak it.

use std::{fmt, ops::RangeInclusive};

/// A card brand, told apart by the number's prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Brand {
    /// American Express: `34`, `37`.
    Amex,
    /// Diners Club Carte Blanche: `300`–`305`.
    DinersClubCarteBlanche,
    /// Diners Club International: `36`, `38`, `39`, `309`.
    DinersClubInternational,
    /// JCB: `3528`–`3589`.
    Jcb,
    /// Visa (Visa Electron included): `4`.
    Visa,
    /// Mastercard: `51`–`55` and `2221`–`2720`.
    Mastercard,
    /// Maestro: `5018`, `5020`, `5038`, `5893`, `6304`, `6759`, `6761`–`6763`.
    Maestro,
    /// Discover: `6011`, `644`–`649`, `65`, `622126`–`622925`.
    Discover,
}

impl Brand {
    /// The brand's name as upstream's validator spells it; it appears in the
    /// "cannot process" message, so clients matching on it keep working.
    pub fn name(self) -> &'static str {
        match self {
            Brand::Amex => "amex",
            Brand::DinersClubCarteBlanche => "diners_club_carte_blanche",
            Brand::DinersClubInternational => "diners_club_international",
            Brand::Jcb => "jcb",
            Brand::Visa => "visa",
            Brand::Mastercard => "mastercard",
            Brand::Maestro => "maestro",
            Brand::Discover => "discover",
        }
    }

    /// Whether the shop takes this brand: only Visa and Mastercard, as upstream.
    pub fn is_accepted(self) -> bool {
        matches!(self, Brand::Visa | Brand::Mastercard)
    }

    /// The number lengths the brand issues.
    pub fn lengths(self) -> RangeInclusive<usize> {
        match self {
            Brand::Amex => 15..=15,
            Brand::DinersClubCarteBlanche => 14..=14,
            Brand::DinersClubInternational => 14..=19,
            Brand::Jcb | Brand::Discover => 16..=19,
            Brand::Visa | Brand::Mastercard => 16..=16,
            Brand::Maestro => 12..=19,
        }
    }

    /// The first brand whose prefix `digits` starts with.
    pub fn detect(digits: &str) -> Option<Brand> {
        PREFIXES
            .iter()
            .find(|(_, prefix)| prefix.matches(digits))
            .map(|(brand, _)| *brand)
    }
}

/// Issuer prefixes, tried top to bottom; the first match decides the brand.
/// Visa Electron's prefixes fall under Visa's `4`.
const PREFIXES: [(Brand, Prefix); 21] = [
    (Brand::Amex, Prefix::one(2, 34)),
    (Brand::Amex, Prefix::one(2, 37)),
    (Brand::DinersClubCarteBlanche, Prefix::range(3, 300, 305)),
    (Brand::DinersClubInternational, Prefix::one(2, 36)),
    (Brand::DinersClubInternational, Prefix::range(2, 38, 39)),
    (Brand::DinersClubInternational, Prefix::one(3, 309)),
    (Brand::Jcb, Prefix::range(4, 3528, 3589)),
    (Brand::Visa, Prefix::one(1, 4)),
    (Brand::Mastercard, Prefix::range(2, 51, 55)),
    (Brand::Mastercard, Prefix::range(4, 2221, 2720)),
    (Brand::Maestro, Prefix::one(4, 5018)),
    (Brand::Maestro, Prefix::one(4, 5020)),
    (Brand::Maestro, Prefix::one(4, 5038)),
    (Brand::Maestro, Prefix::one(4, 5893)),
    (Brand::Maestro, Prefix::one(4, 6304)),
    (Brand::Maestro, Prefix::one(4, 6759)),
    (Brand::Maestro, Prefix::range(4, 6761, 6763)),
    (Brand::Discover, Prefix::one(4, 6011)),
    (Brand::Discover, Prefix::range(3, 644, 649)),
    (Brand::Discover, Prefix::one(2, 65)),
    (Brand::Discover, Prefix::range(6, 622_126, 622_925)),
];

impl fmt::Display for Brand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The first `width` digits read as a number lie in `low..=high`. Numeric
/// ranges say "2221 to 2720" directly, where a regex would need alternations.
#[derive(Debug, Clone, Copy)]
struct Prefix {
    width: usize,
    low: u32,
    high: u32,
}

impl Prefix {
    const fn one(width: usize, value: u32) -> Self {
        Self::range(width, value, value)
    }

    const fn range(width: usize, low: u32, high: u32) -> Self {
        Self { width, low, high }
    }

    fn matches(self, digits: &str) -> bool {
        digits
            .get(..self.width)
            .and_then(|head| head.parse::<u32>().ok())
            .is_some_and(|head| (self.low..=self.high).contains(&head))
    }
}

/// Why a card number is not a valid card number. None of the variants carries
/// the number itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// Nothing left after removing spaces and hyphens.
    #[error("the card number is empty")]
    Empty,
    /// Something other than digits, spaces and hyphens.
    #[error("the card number contains characters other than digits, spaces and hyphens")]
    NotDigits,
    /// No known brand starts this way.
    #[error("the card number matches no known card brand")]
    UnknownBrand,
    /// The brand does not issue numbers of this length.
    #[error("a {brand} card number cannot have {length} digits")]
    WrongLength {
        /// The detected brand.
        brand: Brand,
        /// The number of digits given.
        length: usize,
    },
    /// The Luhn check digit does not match.
    #[error("the card number fails the Luhn checksum")]
    Checksum,
}

/// A valid card number, reduced to what may be shown: brand and last four digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardNumber {
    brand: Brand,
    last_four: String,
}

impl CardNumber {
    /// Checks a number as typed: spaces and hyphens are ignored, anything
    /// else must be a digit; the number must pass Luhn and have a length its
    /// brand issues.
    pub fn parse(raw: &str) -> Result<Self, NumberError> {
        let digits: String = raw.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if digits.is_empty() {
            return Err(NumberError::Empty);
        }
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NumberError::NotDigits);
        }
        let brand = Brand::detect(&digits).ok_or(NumberError::UnknownBrand)?;
        let length = digits.len();
        if !brand.lengths().contains(&length) {
            return Err(NumberError::WrongLength { brand, length });
        }
        if !luhn_valid(&digits) {
            return Err(NumberError::Checksum);
        }
        // Every brand issues at least 12 digits, so four are always there.
        let last_four = digits[length.saturating_sub(4)..].to_owned();
        Ok(Self { brand, last_four })
    }

    /// The brand.
    pub fn brand(&self) -> Brand {
        self.brand
    }

    /// The last four digits, the most of a number that may be shown or logged.
    pub fn last_four(&self) -> &str {
        &self.last_four
    }
}

/// The Luhn checksum over ASCII digits: from the right, every second digit is
/// doubled (minus 9 when it goes over 9), and the total must end in 0.
pub fn luhn_valid(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, b) in digits.bytes().rev().enumerate() {
        if !b.is_ascii_digit() {
            return false;
        }
        let mut d = u32::from(b - b'0');
        if !i.is_multiple_of(2) {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    !digits.is_empty() && sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_known_values() {
        assert!(luhn_valid("79927398713"));
        assert!(!luhn_valid("79927398710"));
        assert!(!luhn_valid(""));
        assert!(!luhn_valid("12a4"));
    }

    #[test]
    fn detects_brands_in_order() {
        let cases = [
            ("378282246310005", Brand::Amex),
            ("30569309025904", Brand::DinersClubCarteBlanche),
            ("36227206271667", Brand::DinersClubInternational),
            ("3093", Brand::DinersClubInternational),
            ("3530111333300000", Brand::Jcb),
            ("4026000000000002", Brand::Visa),
            ("4111111111111111", Brand::Visa),
            ("5555555555554444", Brand::Mastercard),
            ("2221000000000009", Brand::Mastercard),
            ("2720990000000000", Brand::Mastercard),
            ("6759649826438453", Brand::Maestro),
            ("6011111111111117", Brand::Discover),
            ("6221260000000000", Brand::Discover),
        ];
        for (digits, brand) in cases {
            assert_eq!(Brand::detect(digits), Some(brand), "{digits}");
        }
        for unknown in ["2220999999999999", "2721000000000000", "1", "9", "3", "50"] {
            assert_eq!(Brand::detect(unknown), None, "{unknown}");
        }
    }

    #[test]
    fn debug_output_holds_only_the_last_four() {
        let card = CardNumber::parse("4432-8015-6152-0454").unwrap();
        let debug = format!("{card:?}");
        assert!(debug.contains("0454"), "{debug}");
        assert!(!debug.contains("4432801561520454"), "{debug}");
        assert!(!debug.contains("44328015"), "{debug}");
    }

    #[test]
    fn rejects_malformed_numbers() {
        assert_eq!(CardNumber::parse(" - "), Err(NumberError::Empty));
        assert_eq!(
            CardNumber::parse("4111x111111111111"),
            Err(NumberError::NotDigits)
        );
        assert_eq!(
            CardNumber::parse("٤١١١١١١١١١١١١١١١"),
            Err(NumberError::NotDigits)
        );
        assert_eq!(
            CardNumber::parse("4111111111111112"),
            Err(NumberError::Checksum)
        );
        assert_eq!(
            CardNumber::parse("4111111111111"),
            Err(NumberError::WrongLength {
                brand: Brand::Visa,
                length: 13
            })
        );
    }
}
