//! `DATABASE_URL` and friends as the binary reads them: bad values are
//! configuration errors naming the variable, and never show a password.

use boutique_platform::Env;
use boutique_store::{Location, StoreConfig};

fn from(pairs: &[(&str, &str)]) -> Result<StoreConfig, boutique_platform::config::ConfigError> {
    StoreConfig::from_env(&Env::from_pairs(pairs.iter().copied()))
}

#[test]
fn bad_database_urls_are_config_errors_without_the_password() {
    for bad in [
        "mysql://shop:s3cr3t-pw@db/shop",
        "redis://:s3cr3t-pw@cache:6379",
        "shop.db",
        "sqlite:",
        "sqlite://",
        "sqlite://shop.db?mode=ro",
        "postgres://shop:s3cr3t-pw@db:port/shop",
        "postgres://shop:s3cr3t-pw@db:99999/shop",
        "postgresql://shop:s3cr3t-pw@db/shop?sslmode=sometimes",
    ] {
        let err = from(&[("DATABASE_URL", bad)]).unwrap_err();
        assert_eq!(err.var, "DATABASE_URL", "{bad}");
        let text = format!("{err} {err:?}");
        assert!(
            !text.contains("s3cr3t"),
            "password leaked for {bad}: {text}"
        );
        assert!(text.contains("DATABASE_URL"), "{text}");
    }
}

#[test]
fn the_data_directory_holds_the_default_database() {
    let cfg = from(&[("DATA_DIR", "/var/lib/boutique")]).unwrap();
    assert_eq!(
        cfg.location,
        Location::SqliteFile("/var/lib/boutique/boutique.db".into())
    );
    // DATABASE_URL wins over DATA_DIR.
    let cfg = from(&[("DATA_DIR", "/x"), ("DATABASE_URL", "sqlite::memory:")]).unwrap();
    assert_eq!(cfg.location, Location::SqliteMemory);
    // Shown at start-up without the password.
    let cfg = from(&[("DATABASE_URL", "postgres://shop:s3cr3t-pw@db/shop")]).unwrap();
    assert_eq!(
        cfg.location.to_string(),
        "PostgreSQL at postgres://shop:***@db/shop"
    );
}

#[test]
fn bad_pool_settings_name_their_variable() {
    for (var, bad) in [
        ("DATABASE_MAX_CONNECTIONS", "0"),
        ("DATABASE_MAX_CONNECTIONS", "-3"),
        ("DATABASE_ACQUIRE_TIMEOUT", "soon"),
        ("DATABASE_ACQUIRE_TIMEOUT", "0"),
    ] {
        assert_eq!(from(&[(var, bad)]).unwrap_err().var, var, "{var}={bad}");
    }
}
