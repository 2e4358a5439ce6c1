//! Configuration: the catalog address is required and checked.

use boutique_platform::{Env, ServiceConfig};
use boutique_proto::directory::CATALOG;
use boutique_recommendation::Config;

#[test]
fn the_catalog_address_is_required() {
    let err = Config::from_env(&Env::default()).unwrap_err();
    assert_eq!(err.var, "PRODUCT_CATALOG_SERVICE_ADDR");
}

#[test]
fn a_malformed_catalog_address_is_rejected() {
    for bad in ["productcatalogservice", "catalog:port", "catalog:99999"] {
        let env = Env::from_pairs([("PRODUCT_CATALOG_SERVICE_ADDR", bad)]);
        let err = Config::from_env(&env).unwrap_err();
        assert_eq!(err.var, "PRODUCT_CATALOG_SERVICE_ADDR", "{bad}");
    }
}

#[test]
fn reads_the_upstream_defaults() {
    let env = Env::from_pairs([("PRODUCT_CATALOG_SERVICE_ADDR", "productcatalogservice:3550")]);
    let config = Config::from_env(&env).unwrap();
    assert_eq!(config.listen.port(), 8080);
    assert_eq!(
        config.peers.addr(&CATALOG).unwrap().host_port(),
        "productcatalogservice:3550"
    );
}

#[test]
fn the_cache_ttl_defaults_to_five_seconds_and_is_bounded() {
    use std::time::Duration;
    let env = Env::from_pairs([("PRODUCT_CATALOG_SERVICE_ADDR", "catalog:3550")]);
    let config = Config::from_env(&env).unwrap();
    assert_eq!(config.cache_ttl, boutique_recommendation::DEFAULT_TTL);
    assert_eq!(config.cache_ttl, Duration::from_secs(5));
    let off = Config::from_env(&env.clone().with("CACHE_TTL", "0")).unwrap();
    assert_eq!(off.cache_ttl, Duration::ZERO);
    for bad in ["5", "2m", "soon"] {
        let err = Config::from_env(&env.clone().with("CACHE_TTL", bad)).unwrap_err();
        assert_eq!(err.var, "CACHE_TTL", "{bad}");
    }
}
