//! Money arithmetic and parsing (`crates/money`, and the currency service's
//! rate table, which is parsed into `Rate`s).
//!
//! Properties, beyond "does not panic" (overflow checks are on in this
//! build, so a silent wrap is a crash too):
//! - `Money::new` accepts exactly the valid parts, and an amount survives
//!   `total_nanos`/`from_total_nanos`, the wire type and its text;
//! - `checked_add` is exact and commutative, `a + b - b == a`, and it fails
//!   only with `Overflow` when the exact sum does not fit (never wraps);
//! - `checked_mul` is exact or `Overflow`;
//! - rounding to the minor unit is to the nearest, idempotent, and what
//!   `format_price` shows;
//! - a parsed `Rate` prints back to the same rate; conversion is exact
//!   where an `i128` oracle can compute it, keeps the sign, is odd
//!   (`convert(-x) == -convert(x)`) and the identity for equal rates;
//! - a rate table that parses converts every listed pair or says why.
#![no_main]

use arbitrary::Arbitrary;
use boutique_currency::Rates;
use boutique_money::{Money, MoneyError, NANOS_PER_UNIT, Rate, format_price, nanos_per_minor_unit};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Amount {
    code: Code,
    units: i64,
    nanos: i32,
}

/// Mostly real codes, so arithmetic is reached, sometimes anything.
#[derive(Debug, Arbitrary)]
enum Code {
    Usd,
    Eur,
    Jpy,
    Bhd,
    Clf,
    Other(String),
}

impl Code {
    fn as_str(&self) -> &str {
        match self {
            Self::Usd => "USD",
            Self::Eur => "EUR",
            Self::Jpy => "JPY",
            Self::Bhd => "BHD",
            Self::Clf => "CLF",
            Self::Other(code) => code,
        }
    }
}

#[derive(Debug, Arbitrary)]
struct Input {
    a: Amount,
    b: Amount,
    factor: i64,
    from_rate: String,
    to_rate: String,
    table: String,
}

const UNIT: i128 = NANOS_PER_UNIT as i128;

fn fits(total: i128) -> bool {
    let units = total / UNIT;
    i64::try_from(units).is_ok()
}

fn money(amount: &Amount) -> Option<Money> {
    let code = amount.code.as_str();
    let result = Money::new(code, amount.units, amount.nanos);
    let valid_code = code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase());
    let valid_parts = i64::from(amount.nanos).abs() < NANOS_PER_UNIT
        && !(amount.units > 0 && amount.nanos < 0)
        && !(amount.units < 0 && amount.nanos > 0);
    assert_eq!(
        result.is_ok(),
        valid_code && valid_parts,
        "{amount:?}: {result:?}"
    );
    result.ok()
}

fn negate(amount: &Money) -> Option<Money> {
    let units = amount.units().checked_neg()?;
    Some(Money::new(amount.currency_code(), units, -amount.nanos()).expect("negation is valid"))
}

fn check_one(a: &Money) {
    let total = a.total_nanos();
    assert_eq!(
        Money::from_total_nanos(a.currency_code(), total).as_ref(),
        Ok(a)
    );
    let wire = boutique_proto::Money::from(a.clone());
    assert_eq!(Money::try_from(&wire).as_ref(), Ok(a));
    assert_eq!(Money::try_from(wire).as_ref(), Ok(a));
    // Display is exact: sign, units, nine digits of nanos, code.
    let text = a.to_string();
    let (number, code) = text.rsplit_once(' ').expect("a space before the code");
    assert_eq!(code, a.currency_code());
    let (sign, digits) = number
        .strip_prefix('-')
        .map_or((1, number), |rest| (-1, rest));
    let (whole, fraction) = digits.split_once('.').expect("a decimal point");
    assert_eq!(fraction.len(), 9);
    let parsed = sign * (whole.parse::<i128>().unwrap() * UNIT + fraction.parse::<i128>().unwrap());
    assert_eq!(parsed, total, "{text}");
    assert_eq!(a.is_zero(), total == 0);
    assert_eq!(a.is_negative(), total < 0);
    assert_eq!(a.is_positive(), total > 0);

    // Rounding to the minor unit.
    let step = i128::from(nanos_per_minor_unit(a.currency_code()));
    match a.round_to_minor_unit() {
        Ok(rounded) => {
            assert!(rounded.is_in_minor_units());
            assert!(2 * (rounded.total_nanos() - total).abs() <= step);
            assert_eq!(rounded.round_to_minor_unit().as_ref(), Ok(&rounded));
            assert_eq!(format_price(&rounded), format_price(a));
        }
        Err(error) => {
            assert_eq!(error, MoneyError::Overflow);
            let up = (total.abs() + step / 2) / step * step;
            assert!(!fits(up), "{a:?} rounds to {up}, which fits");
            let _ = format_price(a);
        }
    }
}

fn check_pair(a: &Money, b: &Money) {
    let sum = a.checked_add(b);
    if a.currency_code() != b.currency_code() {
        assert!(matches!(sum, Err(MoneyError::CurrencyMismatch { .. })));
        return;
    }
    assert_eq!(sum, b.checked_add(a), "addition commutes");
    let exact = a.total_nanos() + b.total_nanos();
    match &sum {
        Ok(sum) => {
            assert_eq!(sum.total_nanos(), exact);
            assert_eq!(sum.currency_code(), a.currency_code());
            assert_eq!(Money::sum(a.currency_code(), [a, b]).as_ref(), Ok(sum));
            // a + b - b == a, when -b exists.
            if let Some(minus_b) = negate(b) {
                assert_eq!(sum.checked_add(&minus_b).as_ref(), Ok(a));
            }
        }
        Err(error) => {
            assert_eq!(*error, MoneyError::Overflow);
            assert!(!fits(exact), "{a:?} + {b:?} = {exact} fits");
        }
    }
}

fn check_mul(a: &Money, factor: i64) {
    let product = a.checked_mul(factor);
    match a.total_nanos().checked_mul(i128::from(factor)) {
        Some(exact) if fits(exact) => {
            assert_eq!(product.map(|p| p.total_nanos()), Ok(exact));
        }
        _ => assert_eq!(product, Err(MoneyError::Overflow)),
    }
}

/// `nanos × to / from` rounded half away from zero, where `i128` holds it.
fn oracle(nanos: i128, from: Rate, to: Rate) -> Option<i128> {
    let (from_m, from_s) = from.parts();
    let (to_m, to_s) = to.parts();
    let numerator = i128::try_from(to_m)
        .ok()?
        .checked_mul(10i128.checked_pow(from_s)?)?;
    let denominator = i128::try_from(from_m)
        .ok()?
        .checked_mul(10i128.checked_pow(to_s)?)?;
    let product = nanos.abs().checked_mul(numerator)?;
    let (quotient, remainder) = (product / denominator, product % denominator);
    let rounded = if remainder.checked_mul(2)? >= denominator {
        quotient + 1
    } else {
        quotient
    };
    Some(if nanos < 0 { -rounded } else { rounded })
}

fn check_rates(a: &Money, from_text: &str, to_text: &str) {
    let parse = |text: &str| {
        let rate = text.parse::<Rate>().ok()?;
        let (mantissa, _) = rate.parts();
        assert!(mantissa > 0, "{text:?} parsed to zero");
        assert_eq!(rate.to_string().parse::<Rate>(), Ok(rate), "{text:?}");
        Some(rate)
    };
    let (Some(from), Some(to)) = (parse(from_text), parse(to_text)) else {
        return;
    };
    let converted = a.convert(&from, &to, "XTS");
    if let Ok(converted) = &converted {
        let total = converted.total_nanos();
        assert!(total == 0 || (total < 0) == a.is_negative(), "sign kept");
        if let Some(exact) = oracle(a.total_nanos(), from, to) {
            assert_eq!(total, exact, "{a:?} × {to:?} / {from:?}");
        }
    }
    // The same rate is the identity (or, for rates too fine to scale, an
    // overflow error: never another amount).
    match a.convert(&from, &from, a.currency_code()) {
        Ok(same) => assert_eq!(&same, a, "the same rate is the identity"),
        Err(error) => assert_eq!(error, MoneyError::Overflow),
    }
    if let Some(minus_a) = negate(a) {
        let minus = minus_a.convert(&from, &to, "XTS");
        match (&converted, &minus) {
            (Ok(plus), Ok(minus)) => assert_eq!(plus.total_nanos(), -minus.total_nanos()),
            (Err(_), Err(_)) => {}
            _ => panic!("convert(-x) and convert(x) disagree: {converted:?} {minus:?}"),
        }
    }
}

fn check_table(text: &str, a: &Money) {
    let Ok(rates) = Rates::parse(text) else {
        return;
    };
    assert!(rates.is_supported("EUR"));
    let codes: Vec<String> = rates.supported().map(str::to_owned).collect();
    for code in codes.iter().take(4) {
        let Ok(amount) = Money::new(code.as_str(), a.units(), a.nanos()) else {
            continue;
        };
        assert_eq!(rates.convert(&amount, code).as_ref(), Ok(&amount));
        for to in codes.iter().take(4) {
            let _ = rates.convert(&amount, to);
        }
    }
}

fuzz_target!(|input: Input| {
    let a = money(&input.a);
    let b = money(&input.b);
    if let Some(a) = &a {
        check_one(a);
        check_mul(a, input.factor);
        check_rates(a, &input.from_rate, &input.to_rate);
        check_table(&input.table, a);
        // The same parts in a's currency, so addition is reached often.
        if let Ok(b) = Money::new(a.currency_code(), input.b.units, input.b.nanos) {
            check_pair(a, &b);
        }
    }
    if let (Some(a), Some(b)) = (&a, &b) {
        check_pair(a, b);
    }
});
