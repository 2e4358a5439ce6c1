//! The rules a charge must pass, as a pure function of the request and "now".
//!
//! Order: everything that makes the request malformed (card number, expiry
//! fields, CVV, amount, currency) is `INVALID_ARGUMENT` and is checked first;
//! then the declines of a well-formed request, in upstream's order: brand, then
//! expiry (`FAILED_PRECONDITION`). No message carries the card number or the CVV.

use boutique_money::{Money, MoneyError, UPSTREAM_CURRENCIES};
use boutique_platform::RpcError;
use boutique_proto::ChargeRequest;
use time::OffsetDateTime;

use crate::card::{Brand, CardNumber, NumberError};

/// Years before this are typos, not expired cards (no card in use today was
/// issued with such a date).
pub const MIN_EXPIRY_YEAR: i32 = 1970;

/// How far ahead an expiry year may lie. Real cards run for about five to ten
/// years, but upstream's load generator sends up to 71 years ahead, so the
/// bound only catches nonsense such as 999999.
pub const MAX_EXPIRY_YEARS_AHEAD: i32 = 100;

/// The largest CVV: three digits for most brands, four for some.
const MAX_CVV: i32 = 9999;

/// Why a charge was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChargeError {
    /// The request has no `credit_card`.
    #[error("credit_card is required")]
    MissingCard,
    /// The number is not a valid card number; the message is upstream's, the
    /// reason is kept for the log.
    #[error("Credit card info is invalid")]
    InvalidNumber(NumberError),
    /// The expiry month is not 1 to 12.
    #[error("credit card expiration month {0} is not a month from 1 to 12")]
    BadMonth(i32),
    /// The expiry year is not a plausible calendar year.
    #[error("credit card expiration year {year} is not between {min} and {max}")]
    BadYear {
        /// The year given.
        year: i32,
        /// The earliest year accepted.
        min: i32,
        /// The latest year accepted.
        max: i32,
    },
    /// The CVV is not 1 to 4 digits (its value is not repeated).
    #[error("credit card CVV must be a 3 or 4 digit number")]
    BadCvv,
    /// The request has no `amount`.
    #[error("amount is required")]
    MissingAmount,
    /// The amount breaks the `Money` invariants.
    #[error("amount is invalid: {0}")]
    BadAmount(MoneyError),
    /// The amount is zero or negative.
    #[error("amount must be greater than zero, got {0}")]
    NotPositive(Money),
    /// The currency is well formed but not one the shop trades in.
    #[error("currency {0:?} is not supported")]
    UnsupportedCurrency(String),
    /// A valid card of a brand the shop does not take.
    #[error("Sorry, we cannot process {0} credit cards. Only VISA or MasterCard is accepted.")]
    UnacceptedBrand(Brand),
    /// The card expired before the current month.
    #[error("Your credit card (ending {last_four}) expired on {month}/{year}")]
    Expired {
        /// The last four digits.
        last_four: String,
        /// The expiry month.
        month: i32,
        /// The expiry year.
        year: i32,
    },
}

impl From<ChargeError> for RpcError {
    fn from(error: ChargeError) -> Self {
        match error {
            ChargeError::UnacceptedBrand(_) | ChargeError::Expired { .. } => {
                RpcError::FailedPrecondition(error.to_string())
            }
            _ => RpcError::InvalidArgument(error.to_string()),
        }
    }
}

/// A charge that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorized {
    /// The amount to charge, positive and in a supported currency.
    pub amount: Money,
    /// The card, as brand and last four digits.
    pub card: CardNumber,
}

/// Checks a charge request against the rules, with `now` deciding expiry.
pub fn authorize(request: &ChargeRequest, now: OffsetDateTime) -> Result<Authorized, ChargeError> {
    let info = request
        .credit_card
        .as_ref()
        .ok_or(ChargeError::MissingCard)?;
    let card = CardNumber::parse(&info.credit_card_number).map_err(ChargeError::InvalidNumber)?;

    let (month, year) = (
        info.credit_card_expiration_month,
        info.credit_card_expiration_year,
    );
    if !(1..=12).contains(&month) {
        return Err(ChargeError::BadMonth(month));
    }
    let current_year = now.year();
    let max_year = current_year.saturating_add(MAX_EXPIRY_YEARS_AHEAD);
    if !(MIN_EXPIRY_YEAR..=max_year).contains(&year) {
        return Err(ChargeError::BadYear {
            year,
            min: MIN_EXPIRY_YEAR,
            max: max_year,
        });
    }
    if !(1..=MAX_CVV).contains(&info.credit_card_cvv) {
        return Err(ChargeError::BadCvv);
    }

    let amount = request.amount.as_ref().ok_or(ChargeError::MissingAmount)?;
    let amount = Money::try_from(amount).map_err(ChargeError::BadAmount)?;
    if !amount.is_positive() {
        return Err(ChargeError::NotPositive(amount));
    }
    if !UPSTREAM_CURRENCIES.contains(&amount.currency_code()) {
        return Err(ChargeError::UnsupportedCurrency(
            amount.currency_code().to_owned(),
        ));
    }

    if !card.brand().is_accepted() {
        return Err(ChargeError::UnacceptedBrand(card.brand()));
    }
    // Months since year 0; the bounds above keep this far from overflow. A
    // card is good through the end of its expiry month.
    let current = i64::from(current_year) * 12 + i64::from(u8::from(now.month()));
    let expiry = i64::from(year) * 12 + i64::from(month);
    if expiry < current {
        return Err(ChargeError::Expired {
            last_four: card.last_four().to_owned(),
            month,
            year,
        });
    }
    Ok(Authorized { amount, card })
}

#[cfg(test)]
mod tests {
    use boutique_proto::{CreditCardInfo, Money as WireMoney};
    use time::{Date, Month};

    use super::*;

    fn at(year: i32, month: Month) -> OffsetDateTime {
        Date::from_calendar_date(year, month, 1)
            .unwrap()
            .midnight()
            .assume_utc()
    }

    fn request(number: &str, month: i32, year: i32) -> ChargeRequest {
        ChargeRequest {
            amount: Some(WireMoney {
                currency_code: "USD".into(),
                units: 10,
                nanos: 0,
            }),
            credit_card: Some(CreditCardInfo {
                credit_card_number: number.into(),
                credit_card_cvv: 123,
                credit_card_expiration_year: year,
                credit_card_expiration_month: month,
            }),
        }
    }

    #[test]
    fn expiry_is_inclusive_of_the_current_month_across_years() {
        let now = at(2030, Month::January);
        let visa = "4111111111111111";
        assert!(authorize(&request(visa, 1, 2030), now).is_ok());
        assert!(matches!(
            authorize(&request(visa, 12, 2029), now),
            Err(ChargeError::Expired { .. })
        ));
        assert!(authorize(&request(visa, 2, 2030), now).is_ok());
    }

    #[test]
    fn year_bounds_follow_the_clock() {
        let now = at(2030, Month::June);
        let visa = "4111111111111111";
        assert!(authorize(&request(visa, 6, 2130), now).is_ok());
        assert!(matches!(
            authorize(&request(visa, 6, 2131), now),
            Err(ChargeError::BadYear { max: 2130, .. })
        ));
        assert!(matches!(
            authorize(&request(visa, 6, 1969), now),
            Err(ChargeError::BadYear { .. })
        ));
        assert!(matches!(
            authorize(&request(visa, 6, i32::MAX), now),
            Err(ChargeError::BadYear { .. })
        ));
    }

    #[test]
    fn malformed_requests_are_invalid_before_declines() {
        let now = at(2030, Month::June);
        // An amex number with a bad month is malformed first, declined second.
        let error = authorize(&request("378282246310005", 13, 2031), now).unwrap_err();
        assert_eq!(error, ChargeError::BadMonth(13));
        assert!(matches!(
            RpcError::from(error),
            RpcError::InvalidArgument(_)
        ));
        let error = authorize(&request("378282246310005", 1, 2031), now).unwrap_err();
        assert!(matches!(
            RpcError::from(error),
            RpcError::FailedPrecondition(_)
        ));
    }
}
