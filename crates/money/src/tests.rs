//! Unit and property tests for money arithmetic and conversion.

use proptest::prelude::*;

use super::*;

fn usd(units: i64, nanos: i32) -> Money {
    Money::new("USD", units, nanos).unwrap()
}

fn rate(text: &str) -> Rate {
    text.parse().unwrap()
}

#[test]
fn rejects_malformed_parts() {
    assert_eq!(
        Money::new("USD", 1, 1_000_000_000),
        Err(MoneyError::NanosOutOfRange {
            nanos: 1_000_000_000
        })
    );
    assert_eq!(
        Money::new("USD", -1, 5),
        Err(MoneyError::SignMismatch {
            units: -1,
            nanos: 5
        })
    );
    assert_eq!(
        Money::new("USD", 1, -5),
        Err(MoneyError::SignMismatch {
            units: 1,
            nanos: -5
        })
    );
    assert!(matches!(
        Money::new("usd", 1, 0),
        Err(MoneyError::BadCurrencyCode { .. })
    ));
    assert!(matches!(
        Money::new("", 1, 0),
        Err(MoneyError::BadCurrencyCode { .. })
    ));
    assert!(Money::new("USD", 0, -5).is_ok());
    assert!(Money::new("USD", -1, -750_000_000).is_ok());
}

#[test]
fn adds_with_carry_and_borrow() {
    assert_eq!(
        usd(1, 600_000_000)
            .checked_add(&usd(2, 700_000_000))
            .unwrap(),
        usd(4, 300_000_000)
    );
    assert_eq!(
        usd(1, 0).checked_add(&usd(-1, -750_000_000)).unwrap(),
        usd(0, -750_000_000)
    );
    assert_eq!(
        usd(-3, -200_000_000)
            .checked_add(&usd(5, 100_000_000))
            .unwrap(),
        usd(1, 900_000_000)
    );
}

#[test]
fn refuses_to_mix_currencies() {
    let eur = Money::new("EUR", 1, 0).unwrap();
    assert!(matches!(
        usd(1, 0).checked_add(&eur),
        Err(MoneyError::CurrencyMismatch { .. })
    ));
}

#[test]
fn multiplies_unit_price_by_quantity() {
    assert_eq!(
        usd(8, 990_000_000).checked_mul(3).unwrap(),
        usd(26, 970_000_000)
    );
    assert_eq!(usd(i64::MAX, 0).checked_mul(2), Err(MoneyError::Overflow));
}

#[test]
fn sums_a_list() {
    let items = [usd(19, 990_000_000), usd(8, 990_000_000)];
    assert_eq!(Money::sum("USD", &items).unwrap(), usd(28, 980_000_000));
    assert_eq!(Money::sum("USD", &[]).unwrap(), usd(0, 0));
}

#[test]
fn displays_exactly() {
    assert_eq!(usd(-1, -750_000_000).to_string(), "-1.750000000 USD");
    assert_eq!(usd(0, -5).to_string(), "-0.000000005 USD");
    assert_eq!(usd(8, 990_000_000).to_string(), "8.990000000 USD");
}

#[test]
fn parses_rates_exactly() {
    assert_eq!(rate("1.1305").parts(), (11305, 4));
    assert_eq!(rate("126.40").parts(), (1264, 1));
    assert_eq!(rate("1.0").parts(), (1, 0));
    assert_eq!(rate("0.85970").to_string(), "0.8597");
    assert_eq!(rate("15999.40").to_string(), "15999.4");
    for bad in ["", "abc", "-1.2", "1.2.3", "1e5", ".5", "0", "0.000"] {
        assert!(bad.parse::<Rate>().is_err(), "{bad:?} should be rejected");
    }
}

/// Published conversions (USD to X through EUR at the upstream ECB rates). Our
/// single rounding agrees with them to the nano.
#[test]
fn converts_like_the_reference_vectors() {
    let usd_rate = rate("1.1305");
    let cases = [
        ((19, 990_000_000), "EUR", "1.0", (17, 682_441_398)),
        ((19, 990_000_000), "CAD", "1.5128", (26, 749_997_346)),
        ((109, 990_000_000), "EUR", "1.0", (97, 293_233_083)),
        ((89, 990_000_000), "GBP", "0.85970", (68, 433_793_012)),
        ((8, 990_000_000), "EUR", "1.0", (7, 952_233_525)),
    ];
    for ((units, nanos), code, to, (want_units, want_nanos)) in cases {
        let got = usd(units, nanos)
            .convert(&usd_rate, &rate(to), code)
            .unwrap();
        assert_eq!(
            (got.units(), got.nanos()),
            (want_units, want_nanos),
            "{units}.{nanos} USD -> {code}"
        );
        assert_eq!(got.currency_code(), code);
    }
}

#[test]
fn converts_negative_amounts_symmetrically() {
    let eur = usd(-1, -750_000_000)
        .convert(&rate("1.1305"), &rate("1.0"), "EUR")
        .unwrap();
    let positive = usd(1, 750_000_000)
        .convert(&rate("1.1305"), &rate("1.0"), "EUR")
        .unwrap();
    assert_eq!(eur.total_nanos(), -positive.total_nanos());
}

#[test]
fn rounds_halves_away_from_zero() {
    // 5 nanos at a rate of one half is 2.5 nanos.
    let half = rate("0.5");
    let one = rate("1");
    assert_eq!(usd(0, 5).convert(&one, &half, "EUR").unwrap().nanos(), 3);
    assert_eq!(usd(0, -5).convert(&one, &half, "EUR").unwrap().nanos(), -3);
    assert_eq!(usd(0, 4).convert(&one, &half, "EUR").unwrap().nanos(), 2);
}

#[test]
fn reports_overflow_instead_of_panicking() {
    let huge = usd(i64::MAX, 999_999_999);
    assert_eq!(
        huge.convert(&rate("1"), &rate("15999.40"), "IDR"),
        Err(MoneyError::Overflow)
    );
}

fn any_money() -> impl Strategy<Value = Money> {
    (any::<i64>(), 0..1_000_000_000i32).prop_map(|(units, nanos)| {
        let nanos = if units < 0 { -nanos } else { nanos };
        Money::new("USD", units, nanos).unwrap()
    })
}

fn any_rate() -> impl Strategy<Value = Rate> {
    (1u64..100_000_000, 0u32..8).prop_map(|(mantissa, scale)| {
        let text = format!("{mantissa:0>width$}", width = scale as usize + 1);
        let (whole, fraction) = text.split_at(text.len() - scale as usize);
        format!("{whole}.{fraction}").parse().unwrap()
    })
}

proptest! {
    #[test]
    fn addition_is_exact_or_overflows(a in any_money(), b in any_money()) {
        match a.checked_add(&b) {
            Ok(sum) => {
                prop_assert_eq!(sum.total_nanos(), a.total_nanos() + b.total_nanos());
                prop_assert!(Money::new("USD", sum.units(), sum.nanos()).is_ok());
            }
            Err(e) => prop_assert_eq!(e, MoneyError::Overflow),
        }
    }

    #[test]
    fn addition_commutes(a in any_money(), b in any_money()) {
        prop_assert_eq!(a.checked_add(&b), b.checked_add(&a));
    }

    #[test]
    fn multiplication_is_repeated_addition(a in any_money(), n in 0i64..20) {
        let repeated = (0..n).try_fold(Money::zero("USD").unwrap(), |acc, _| acc.checked_add(&a));
        prop_assert_eq!(a.checked_mul(n), repeated);
    }

    #[test]
    fn conversion_keeps_sign_and_range(a in any_money(), from in any_rate(), to in any_rate()) {
        match a.convert(&from, &to, "EUR") {
            Ok(c) => {
                prop_assert!(Money::new("EUR", c.units(), c.nanos()).is_ok());
                prop_assert!(!(a.is_positive() && c.is_negative()));
                prop_assert!(!(a.is_negative() && c.is_positive()));
            }
            Err(e) => prop_assert_eq!(e, MoneyError::Overflow),
        }
    }

    #[test]
    fn conversion_is_within_half_a_nano(units in -1_000_000_000i64..1_000_000_000, nanos in 0..1_000_000_000i32,
                                        from in any_rate(), to in any_rate()) {
        let nanos = if units < 0 { -nanos } else { nanos };
        let a = Money::new("USD", units, nanos).unwrap();
        let c = a.convert(&from, &to, "EUR").unwrap();
        // |c × from − a × to| ≤ from / 2, in the common scale.
        let (fm, fs) = from.parts();
        let (tm, ts) = to.parts();
        let scale = 10i128.pow(fs.max(ts));
        let from_scaled = fm as i128 * scale / 10i128.pow(fs);
        let to_scaled = tm as i128 * scale / 10i128.pow(ts);
        let error = (c.total_nanos() * from_scaled - a.total_nanos() * to_scaled).abs();
        prop_assert!(2 * error <= from_scaled, "error {} vs rate {}", error, from_scaled);
    }

    #[test]
    fn round_trip_lands_within_rounding(units in -1_000_000i64..1_000_000, nanos in 0..1_000_000_000i32,
                                        rate_idx in 0usize..4) {
        let rates = ["1.1305", "126.40", "0.85970", "15999.40"];
        let nanos = if units < 0 { -nanos } else { nanos };
        let a = Money::new("USD", units, nanos).unwrap();
        let there = a.convert(&rate("1.1305"), &rate(rates[rate_idx]), "XXX").unwrap();
        let back = there.convert(&rate(rates[rate_idx]), &rate("1.1305"), "USD").unwrap();
        // One nano in the target currency is worth at most 1.1305/0.8597 nanos of USD.
        prop_assert!((back.total_nanos() - a.total_nanos()).abs() <= 2);
    }
}

/// A denominator above `u128::MAX / 2` (an 18-digit rate converted to a rate
/// with 21 decimals) once overflowed when the remainder was doubled to round:
/// a panic with overflow checks, a wrong rounding without.
#[test]
fn rounding_a_conversion_with_a_huge_denominator_does_not_overflow() {
    let from = rate("200000000000000000");
    let to = rate("0.000100000000000000001");
    let amount = usd(1_900_000_000_000, 0);
    // 1.9e21 nanos × (1e17 + 1) / 2e38 = 0.95000000000000000095 nanos: one nano.
    assert_eq!(
        amount.convert(&from, &to, "EUR").map(|c| c.total_nanos()),
        Ok(1)
    );
    assert_eq!(
        usd(-1_900_000_000_000, 0)
            .convert(&from, &to, "EUR")
            .map(|c| c.total_nanos()),
        Ok(-1)
    );
    // Just under half a nano rounds down.
    assert_eq!(
        usd(900_000_000_000, 0)
            .convert(&from, &to, "EUR")
            .map(|c| c.total_nanos()),
        Ok(0)
    );
}
