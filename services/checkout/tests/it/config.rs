//! Configuration: every dependency address is required and named when missing.

use boutique_checkout::Config;
use boutique_platform::{Env, ServiceConfig};
use boutique_proto::directory::EMAIL;

/// Upstream's names, written out: the directory must keep them.
const VARS: [&str; 7] = [
    "CART_SERVICE_ADDR",
    "PRODUCT_CATALOG_SERVICE_ADDR",
    "CURRENCY_SERVICE_ADDR",
    "SHIPPING_SERVICE_ADDR",
    "PAYMENT_SERVICE_ADDR",
    "EMAIL_SERVICE_ADDR",
    "ORDERS_SERVICE_ADDR",
];

fn full_env() -> Env {
    Env::from_pairs(VARS.map(|var| (var, "somewhere:1234")))
}

#[test]
fn each_missing_address_is_named() {
    for missing in VARS {
        let env = Env::from_pairs(
            VARS.iter()
                .filter(|&&var| var != missing)
                .map(|&var| (var, "somewhere:1234")),
        );
        let err = Config::from_env(&env).unwrap_err();
        assert_eq!(err.var, missing);
    }
}

#[test]
fn a_malformed_address_is_named() {
    let env = full_env().with("PAYMENT_SERVICE_ADDR", "paymentservice");
    assert_eq!(
        Config::from_env(&env).unwrap_err().var,
        "PAYMENT_SERVICE_ADDR"
    );
}

#[test]
fn reads_the_upstream_defaults() {
    let config = Config::from_env(&full_env()).unwrap();
    assert_eq!(config.listen.port(), 5050);
    assert_eq!(
        config.peers.addr(&EMAIL).unwrap().host_port(),
        "somewhere:1234"
    );
    let config = Config::from_env(&full_env().with("PORT", "6060")).unwrap();
    assert_eq!(config.listen.port(), 6060);
}
