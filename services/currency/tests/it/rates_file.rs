//! `CURRENCY_RATES_FILE`: a replacement table, validated at startup.

use boutique_platform::ServiceConfig;
use std::io::Write;

use boutique_currency::{Config, RATES_FILE_VAR};
use boutique_proto::Empty;
use tempfile::NamedTempFile;
use tonic::Code;

use crate::helpers::{local_env, money, request, spawn_app_with};

fn rates_file(text: &str) -> NamedTempFile {
    let mut file = NamedTempFile::new().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file.flush().unwrap();
    file
}

fn path(file: &NamedTempFile) -> String {
    file.path().to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_good_file_replaces_the_codes_and_rates() {
    let file =
        rates_file("# fresher rates\ncode,per_eur\nEUR,1\nUSD,1.25\nCHF,0.9400\nXAU,0.0005\n");
    let mut app = spawn_app_with(local_env().with(RATES_FILE_VAR, path(&file))).await;

    let codes = app
        .client
        .get_supported_currencies(Empty {})
        .await
        .unwrap()
        .into_inner()
        .currency_codes;
    assert_eq!(codes, ["EUR", "USD", "CHF", "XAU"]);

    // 10 USD at 1.25 per euro is 8 EUR (the built-in rate would give 8.845…).
    let reply = app
        .client
        .convert(request(money("USD", 10, 0), "EUR"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply, money("EUR", 8, 0));
    // 1 USD = 0.8 EUR = 0.0004 XAU.
    let reply = app
        .client
        .convert(request(money("USD", 1, 0), "XAU"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply, money("XAU", 0, 400_000));
    // Codes only in the built-in table are now unknown.
    let status = app
        .client
        .convert(request(money("USD", 1, 0), "JPY"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("JPY"), "{status:?}");
    app.server.stop().await;
}

#[test]
fn bad_files_are_rejected_naming_the_variable_and_the_problem() {
    let cases = [
        ("code,per_eur\nUSD,1.1305\nJPY,126.40\n", "EUR is missing"),
        ("code,per_eur\nEUR,1\nUSD,1.1x\n", "\"1.1x\""),
        ("code,per_eur\nEUR,1\nUSD,-1.2\n", "USD"),
        ("code,per_eur\nEUR,1\nUSD,0\n", "greater than zero"),
        (
            "code,per_eur\nEUR,1\nUSD,1.1\nUSD,1.2\n",
            "USD is listed twice",
        ),
        (
            "code,per_eur\nEUR,1\nusd,1.1\n",
            "\"usd\" is not three capital letters",
        ),
        ("code,per_eur\nEUR,1\nDOLLAR,1.1\n", "\"DOLLAR\""),
        ("code,per_eur\nEUR,2\nUSD,1.1\n", "EUR has rate 2"),
        ("EUR,1\nUSD,1.1\n", "expected the header"),
        ("", "no header"),
    ];
    for (text, reason) in cases {
        let file = rates_file(text);
        let env = local_env().with(RATES_FILE_VAR, path(&file));
        let error = Config::from_env(&env).unwrap_err();
        assert_eq!(error.var, "CURRENCY_RATES_FILE", "{text:?}");
        assert_eq!(error.value, path(&file));
        let message = error.to_string();
        assert!(message.contains("CURRENCY_RATES_FILE"), "{message}");
        assert!(
            message.contains(reason),
            "{text:?}: {message} should contain {reason:?}"
        );
    }
}

#[test]
fn a_missing_file_is_rejected_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.csv");
    let env = local_env().with(RATES_FILE_VAR, missing.to_str().unwrap());
    let error = Config::from_env(&env).unwrap_err();
    assert_eq!(error.var, "CURRENCY_RATES_FILE");
    assert!(error.reason.contains("cannot read"), "{error}");
}

#[test]
fn without_the_variable_the_built_in_table_is_used() {
    let config = Config::from_env(&local_env()).unwrap();
    assert_eq!(config.rates.supported().len(), 33);
    // Blank counts as unset, as for every other variable.
    let config = Config::from_env(&local_env().with(RATES_FILE_VAR, "  ")).unwrap();
    assert_eq!(config.rates.supported().len(), 33);
    let config = Config::from_env(&boutique_platform::Env::default()).unwrap();
    assert_eq!(config.listen.port(), 7000);
}
