//! Unit and property tests for the rate table and conversion.

use boutique_money::{NANOS_PER_UNIT, UPSTREAM_CURRENCIES};
use proptest::prelude::*;

use super::*;

fn builtin() -> Rates {
    Rates::builtin().unwrap()
}

fn money(code: &str, units: i64, nanos: i32) -> Money {
    Money::new(code, units, nanos).unwrap()
}

fn table(body: &str) -> Result<Rates, RatesError> {
    Rates::parse(&format!("code,per_eur\n{body}"))
}

#[test]
fn builtin_table_is_upstreams() {
    let rates = builtin();
    assert_eq!(
        rates.supported().collect::<Vec<_>>(),
        UPSTREAM_CURRENCIES.to_vec()
    );
    assert_eq!(rates.rate("EUR").unwrap().parts(), (1, 0));
    assert_eq!(rates.rate("USD").unwrap().to_string(), "1.1305");
    assert_eq!(rates.rate("JPY").unwrap().to_string(), "126.4");
    assert_eq!(rates.rate("IDR").unwrap().to_string(), "15999.4");
    assert!(rates.is_supported("ZAR"));
    assert!(!rates.is_supported("zar"));
    assert!(rates.rate("XXX").is_none());
}

#[test]
fn parses_comments_blank_lines_spaces_and_a_bom() {
    let rates =
        Rates::parse("\u{feff}# note\n\n code , per_eur \r\nEUR, 1.000\r\n# more\nUSD ,2\n")
            .unwrap();
    assert_eq!(rates.supported().collect::<Vec<_>>(), ["EUR", "USD"]);
    assert_eq!(rates.rate("USD").unwrap().parts(), (2, 0));
}

#[test]
fn rejects_bad_tables() {
    assert_eq!(Rates::parse(""), Err(RatesError::MissingHeader));
    assert_eq!(Rates::parse("# only\n\n"), Err(RatesError::MissingHeader));
    assert!(matches!(
        Rates::parse("# c\nEUR,1\n"),
        Err(RatesError::BadHeader { line: 2, .. })
    ));
    assert!(matches!(
        table("EUR,1\nUSD\n"),
        Err(RatesError::BadLine { line: 3, .. })
    ));
    assert!(matches!(
        table("EUR,1\nUSD,1,2\n"),
        Err(RatesError::BadLine { line: 3, .. })
    ));
    for code in ["usd", "US", "USDX", "", "U$D", "ÜSD"] {
        assert_eq!(
            table(&format!("EUR,1\n{code},1.5\n")),
            Err(RatesError::BadCode {
                line: 3,
                code: code.to_owned()
            }),
            "{code:?}"
        );
    }
    assert_eq!(
        table("EUR,1\nUSD,1.1\nUSD,1.2\n"),
        Err(RatesError::DuplicateCode {
            line: 4,
            code: "USD".into(),
            first: 3
        })
    );
    for rate in [
        "abc", "", "-1.5", "0", "0.000", "1e3", "1,5", ".5", "NaN", "inf",
    ] {
        let result = table(&format!("EUR,1\nUSD,{rate}\n"));
        assert!(
            matches!(
                result,
                Err(RatesError::BadRate { line: 3, .. } | RatesError::BadLine { line: 3, .. })
            ),
            "{rate:?}: {result:?}"
        );
    }
    // 19 decimal places is more than conversion is built for.
    assert!(matches!(
        table("EUR,1\nUSD,0.0000000000000000001\n"),
        Err(RatesError::BadRate {
            source: RateError::TooPrecise(_),
            ..
        })
    ));
    assert_eq!(table("USD,1.1\n"), Err(RatesError::MissingEur));
    assert!(matches!(
        table("EUR,1.01\n"),
        Err(RatesError::EurNotOne { .. })
    ));
}

#[test]
fn error_messages_name_the_problem() {
    let message = table("EUR,1\nUSD,1\nUSD,2\n").unwrap_err().to_string();
    assert!(
        message.contains("USD") && message.contains("twice"),
        "{message}"
    );
    let message = table("EUR,1\nUSD,abc\n").unwrap_err().to_string();
    assert!(
        message.contains("abc") && message.contains("line 3"),
        "{message}"
    );
    let message = table("USD,1\n").unwrap_err().to_string();
    assert!(message.contains("EUR is missing"), "{message}");
}

#[test]
fn converts_through_the_euro_rounding_once() {
    let rates = builtin();
    // 300 / 1.136 = 264.084507042253…, rounds down.
    assert_eq!(
        rates.convert(&money("CHF", 300, 0), "EUR").unwrap(),
        money("EUR", 264, 84_507_042)
    );
    // 19.99 × 126.40 / 1.1305 = 2235.0605926581159…; one rounding, no EUR step.
    assert_eq!(
        rates
            .convert(&money("USD", 19, 990_000_000), "JPY")
            .unwrap(),
        money("JPY", 2235, 60_592_658)
    );
    // A half nano rounds away from zero: 1 nano EUR × 0.5 = 0.5 nano.
    let halves = table("EUR,1\nHAF,0.5\n").unwrap();
    assert_eq!(
        halves.convert(&money("EUR", 0, 1), "HAF").unwrap(),
        money("HAF", 0, 1)
    );
    assert_eq!(
        halves.convert(&money("EUR", 0, -1), "HAF").unwrap(),
        money("HAF", 0, -1)
    );
    assert_eq!(
        halves.convert(&money("EUR", 0, 3), "HAF").unwrap(),
        money("HAF", 0, 2)
    );
}

#[test]
fn negative_amounts_mirror_positive_ones() {
    let rates = builtin();
    let positive = rates.convert(&money("USD", 1, 750_000_000), "EUR").unwrap();
    let negative = rates
        .convert(&money("USD", -1, -750_000_000), "EUR")
        .unwrap();
    // 1.75 / 1.1305 = 1.547987616…; upstream gave -4/-547987616 for the negative.
    assert_eq!(positive, money("EUR", 1, 547_987_616));
    assert_eq!(negative, money("EUR", -1, -547_987_616));
}

#[test]
fn same_currency_is_identity_and_zero_stays_zero() {
    let rates = builtin();
    let amount = money("JPY", -12, -345);
    assert_eq!(rates.convert(&amount, "JPY").unwrap(), amount);
    assert_eq!(
        rates.convert(&money("USD", 0, 0), "IDR").unwrap(),
        money("IDR", 0, 0)
    );
}

#[test]
fn unknown_codes_and_overflow_are_errors() {
    let rates = builtin();
    assert_eq!(
        rates.convert(&money("XXX", 1, 0), "EUR"),
        Err(ConvertError::UnsupportedFrom("XXX".into()))
    );
    assert_eq!(
        rates.convert(&money("EUR", 1, 0), "usd"),
        Err(ConvertError::UnsupportedTo("usd".into()))
    );
    // Unknown codes are rejected even when both sides match.
    assert_eq!(
        rates.convert(&money("XXX", 1, 0), "XXX"),
        Err(ConvertError::UnsupportedFrom("XXX".into()))
    );
    let huge = rates.convert(&money("USD", i64::MAX, 999_999_999), "IDR");
    assert_eq!(huge, Err(ConvertError::Money(MoneyError::Overflow)));
    assert_eq!(huge.unwrap_err().to_string(), "amount out of range");
    // Shrinking currencies cannot overflow, even at the extremes.
    assert!(
        rates
            .convert(&money("IDR", i64::MIN, -999_999_999), "EUR")
            .is_ok()
    );
}

/// A supported code, chosen from the built-in table.
fn known_code() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(UPSTREAM_CURRENCIES.to_vec())
}

/// Valid amounts small enough that no built-in conversion overflows: the
/// largest growth is EUR → IDR, about ×16000, and i64 holds 9.2e18 units.
fn amount(code: &'static str) -> impl Strategy<Value = Money> {
    const LIMIT: i64 = 100_000_000_000_000;
    (-LIMIT..=LIMIT, 0..NANOS_PER_UNIT).prop_map(move |(units, nanos)| {
        // Give the nanos the sign of the units so the parts are consistent.
        let nanos = i32::try_from(if units < 0 { -nanos } else { nanos }).unwrap_or(0);
        Money::new(code, units, nanos).unwrap()
    })
}

fn any_amount() -> impl Strategy<Value = Money> {
    known_code().prop_flat_map(amount)
}

/// Any string a caller might send as a code: known ones, near misses, junk.
fn any_code() -> impl Strategy<Value = String> {
    prop_oneof![
        known_code().prop_map(str::to_owned),
        "[A-Z]{3}",
        "[a-zA-Z]{0,4}",
        ".{0,5}",
    ]
}

fn sign(money: &Money) -> i8 {
    if money.is_negative() {
        -1
    } else if money.is_positive() {
        1
    } else {
        0
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// X → Y → X is off by at most the two roundings: half a nano of Y, which
    /// is rate(X)/rate(Y) nanos of X, plus half a nano of X.
    #[test]
    fn round_trip_stays_within_the_rounding_bound(start in any_amount(), to in known_code()) {
        let rates = builtin();
        let there = rates.convert(&start, to).unwrap();
        let back = rates.convert(&there, start.currency_code()).unwrap();
        let diff = (back.total_nanos() - start.total_nanos()).unsigned_abs();
        let (x_m, x_s) = rates.rate(start.currency_code()).unwrap().parts();
        let (y_m, y_s) = rates.rate(to).unwrap().parts();
        // 2·diff ≤ rX/rY + 1, with both sides multiplied by 10^(xS+yS)·yM.
        let lhs = 2 * diff * y_m * 10u128.pow(x_s);
        let rhs = x_m * 10u128.pow(y_s) + y_m * 10u128.pow(x_s);
        prop_assert!(lhs <= rhs, "{start} → {there} → {back}");
    }

    /// The result never has the opposite sign, a negative amount converts to
    /// exactly minus its positive twin, and zero stays zero.
    #[test]
    fn sign_is_preserved_and_negation_commutes(start in any_amount(), to in known_code()) {
        let rates = builtin();
        let result = rates.convert(&start, to).unwrap();
        prop_assert!(sign(&result) == sign(&start) || result.is_zero(), "{start} → {result}");
        let negated = Money::from_total_nanos(start.currency_code(), -start.total_nanos()).unwrap();
        let negated_result = rates.convert(&negated, to).unwrap();
        prop_assert_eq!(negated_result.total_nanos(), -result.total_nanos());
    }

    /// A larger amount never converts to a smaller one.
    #[test]
    fn conversion_is_monotonic(
        code in known_code(),
        to in known_code(),
        a in -1_000_000_000_000_000i64..1_000_000_000_000_000,
        b in -1_000_000_000_000_000i64..1_000_000_000_000_000,
    ) {
        let rates = builtin();
        let (low, high) = (a.min(b), a.max(b));
        let low = rates.convert(&Money::from_total_nanos(code, low.into()).unwrap(), to).unwrap();
        let high = rates.convert(&Money::from_total_nanos(code, high.into()).unwrap(), to).unwrap();
        prop_assert!(low.total_nanos() <= high.total_nanos(), "{low} > {high}");
    }

    /// Any parts and any codes: an error or a valid amount in the target
    /// currency, never a panic.
    #[test]
    fn never_panics_and_results_are_valid(
        from in any_code(),
        to in any_code(),
        units in any::<i64>(),
        nanos in any::<i32>(),
    ) {
        let rates = builtin();
        let Ok(start) = Money::new(from, units, nanos) else {
            return Ok(());
        };
        match rates.convert(&start, &to) {
            Ok(result) => {
                prop_assert_eq!(result.currency_code(), to.as_str());
                prop_assert!(rates.is_supported(&to));
                prop_assert!(Money::new(to.as_str(), result.units(), result.nanos()).is_ok());
            }
            Err(ConvertError::UnsupportedFrom(code)) => {
                prop_assert!(!rates.is_supported(&code));
                prop_assert_eq!(code.as_str(), start.currency_code());
            }
            Err(ConvertError::UnsupportedTo(code)) => {
                prop_assert!(!rates.is_supported(&code));
                prop_assert_eq!(code, to);
            }
            Err(ConvertError::Money(error)) => prop_assert_eq!(error, MoneyError::Overflow),
        }
    }

    /// Any text is a table or an error, never a panic.
    #[test]
    fn parsing_never_panics(text in "(code,per_eur\n)?([A-Z,a-z0-9.#\n -]{0,40}\n){0,6}") {
        if let Ok(rates) = Rates::parse(&text) {
            prop_assert!(rates.is_supported("EUR"));
        }
    }
}
