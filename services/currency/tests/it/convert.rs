//! Convert: identity, signs, zero, extremes, every error path, and agreement
//! with the pure [`Rates`] logic.

use boutique_currency::Rates;
use boutique_proto::{CurrencyConversionRequest, Empty};
use tonic::Code;

use crate::helpers::{money, request, spawn_app};

#[tokio::test]
async fn same_currency_returns_the_input_unchanged() {
    let mut app = spawn_app().await;
    for amount in [
        money("USD", 19, 990_000_000),
        money("JPY", -3, -1),
        money("EUR", 0, 0),
        money("IDR", i64::MAX, 999_999_999),
    ] {
        let code = amount.currency_code.clone();
        let reply = app
            .client
            .convert(request(amount.clone(), &code))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(reply, amount);
    }
    app.server.stop().await;
}

#[tokio::test]
async fn negative_amounts_convert_to_minus_the_positive_result() {
    let mut app = spawn_app().await;
    let positive = app
        .client
        .convert(request(money("USD", 1, 750_000_000), "EUR"))
        .await
        .unwrap()
        .into_inner();
    let negative = app
        .client
        .convert(request(money("USD", -1, -750_000_000), "EUR"))
        .await
        .unwrap()
        .into_inner();
    // 1.75 / 1.1305 = 1.5479876160…; upstream answered -4/-547987616 here.
    assert_eq!(positive, money("EUR", 1, 547_987_616));
    assert_eq!(negative, money("EUR", -1, -547_987_616));
    // Below one unit the sign lives in the nanos alone.
    let small = app
        .client
        .convert(request(money("EUR", 0, -500_000_000), "USD"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(small, money("USD", 0, -565_250_000));
    app.server.stop().await;
}

#[tokio::test]
async fn zero_converts_to_zero() {
    let mut app = spawn_app().await;
    for to in ["EUR", "JPY", "IDR", "GBP"] {
        let reply = app
            .client
            .convert(request(money("USD", 0, 0), to))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(reply, money(to, 0, 0));
    }
    app.server.stop().await;
}

#[tokio::test]
async fn huge_amounts_are_invalid_argument_and_the_service_stays_up() {
    let mut app = spawn_app().await;
    for from in [
        money("USD", i64::MAX, 999_999_999),
        money("USD", i64::MIN, -999_999_999),
        money("EUR", i64::MAX / 2, 0),
    ] {
        let status = app
            .client
            .convert(request(from.clone(), "IDR"))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{from:?}: {status:?}");
        assert_eq!(status.message(), "amount out of range");
    }
    // The largest amounts still convert where the result shrinks.
    let reply = app
        .client
        .convert(request(money("IDR", i64::MAX, 999_999_999), "EUR"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.currency_code, "EUR");
    assert!(reply.units > 0);
    assert!(app.client.get_supported_currencies(Empty {}).await.is_ok());
    app.server.stop().await;
}

#[tokio::test]
async fn bad_requests_are_invalid_argument_naming_the_problem() {
    let mut app = spawn_app().await;
    let cases = [
        (
            CurrencyConversionRequest {
                from: None,
                to_code: "EUR".into(),
            },
            "from is required",
        ),
        (
            request(money("USD", 1, 1_000_000_000), "EUR"),
            "nanos 1000000000 is out of range",
        ),
        (
            request(money("USD", 1, -1_000_000_000), "EUR"),
            "nanos -1000000000 is out of range",
        ),
        (
            request(money("USD", 1, -5), "EUR"),
            "units 1 and nanos -5 have different signs",
        ),
        (
            request(money("USD", -1, 5), "EUR"),
            "units -1 and nanos 5 have different signs",
        ),
        (request(money("usd", 1, 0), "EUR"), "\"usd\""),
        (request(money("", 1, 0), "EUR"), "currency code \"\""),
        (request(money("XXX", 1, 0), "EUR"), "from \"XXX\""),
        // Unknown on both sides is still unknown, not an identity.
        (request(money("XXX", 1, 0), "XXX"), "from \"XXX\""),
        (request(money("USD", 1, 0), "XYZ"), "to \"XYZ\""),
        (request(money("USD", 1, 0), "eur"), "to \"eur\""),
        (request(money("USD", 1, 0), ""), "to \"\""),
    ];
    for (request, message) in cases {
        let status = app.client.convert(request.clone()).await.unwrap_err();
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{request:?}: {status:?}"
        );
        assert!(
            status.message().contains(message),
            "{request:?}: {:?} should contain {message:?}",
            status.message()
        );
    }
    app.server.stop().await;
}

#[tokio::test]
async fn grpc_answers_agree_with_the_rates_logic() {
    let mut app = spawn_app().await;
    let rates = Rates::builtin().unwrap();
    // A spread of amounts and every pair of a few currencies, both signs.
    let amounts: [(i64, i32); 4] = [(1, 0), (0, 1), (19, 990_000_000), (123_456, 789_000_001)];
    let codes = ["EUR", "USD", "JPY", "GBP", "IDR", "KRW", "ZAR"];
    for (units, nanos) in amounts {
        for sign in [1, -1] {
            for from in codes {
                for to in codes {
                    let wire = money(from, i64::from(sign) * units, sign * nanos);
                    let reply = app
                        .client
                        .convert(request(wire.clone(), to))
                        .await
                        .unwrap()
                        .into_inner();
                    let amount = boutique_money::Money::try_from(&wire).unwrap();
                    let expected = rates.convert(&amount, to).unwrap();
                    assert_eq!(reply, expected.into(), "{wire:?} -> {to}");
                }
            }
        }
    }
    app.server.stop().await;
}
