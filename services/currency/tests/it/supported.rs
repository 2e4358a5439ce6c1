//! GetSupportedCurrencies.

use boutique_money::UPSTREAM_CURRENCIES;
use boutique_proto::Empty;

use crate::helpers::spawn_app;

#[tokio::test]
async fn lists_the_33_upstream_codes_in_upstream_order() {
    let mut app = spawn_app().await;
    let codes = app
        .client
        .get_supported_currencies(Empty {})
        .await
        .unwrap()
        .into_inner()
        .currency_codes;
    assert_eq!(codes.len(), 33);
    assert_eq!(codes.first().map(String::as_str), Some("EUR"));
    assert_eq!(codes, UPSTREAM_CURRENCIES.to_vec());
    app.server.stop().await;
}
