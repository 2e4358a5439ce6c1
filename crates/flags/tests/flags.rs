//! The flags from a real file: live changes (rename and in place), a
//! malformed file keeping the last good flags, no source, targeting, the
//! metric and the span event.

use std::{path::Path, time::Duration};

use boutique_flags::{
    Flags, FlagsConfig,
    config::OFFLINE_PATH_VAR,
    names::{AD_FAILURE, PAYMENT_FAILURE, PRODUCT_CATALOG_FAILURE},
    record::{EVALUATION_EVENT, EVALUATIONS_METRIC, Evaluation, record_on_span},
};
use boutique_platform::{Env, Telemetry, testing::sample};
use boutique_testkit::eventually;
use opentelemetry::{
    Context,
    trace::{TraceContextExt, Tracer, TracerProvider as _},
};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};

const PATIENCE: Duration = Duration::from_secs(10);

/// A flag file with `adFailure` at `ad` and `paymentFailure` at `payment`.
fn flag_file(ad: bool, payment: f64) -> String {
    format!(
        r#"{{"$schema": "https://flagd.dev/schema/v0/flags.json", "flags": {{
          "adFailure": {{"state": "ENABLED", "variants": {{"on": true, "off": false}},
                         "defaultVariant": "{}"}},
          "paymentFailure": {{"state": "ENABLED", "variants": {{"off": 0, "set": {payment}}},
                              "defaultVariant": "set"}},
          "productCatalogFailure": {{"state": "ENABLED", "variants": {{"on": true, "off": false}},
            "defaultVariant": "on",
            "targeting": {{"if": [{{"==": [{{"var": "product_id"}}, "OLJCESPC7Z"]}}, null, "off"]}}}}
        }}}}"#,
        if ad { "on" } else { "off" }
    )
}

/// Replaces the file as editors and Kubernetes do: write aside, rename over.
fn replace(path: &Path, text: &str) {
    let aside = path.with_extension("tmp");
    std::fs::write(&aside, text).unwrap();
    std::fs::rename(&aside, path).unwrap();
}

fn config(path: &Path) -> FlagsConfig {
    let env = Env::from_pairs([
        (OFFLINE_PATH_VAR, path.to_str().unwrap()),
        ("FLAGD_OFFLINE_POLL_MS", "100"),
    ]);
    FlagsConfig::from_env(&env).unwrap()
}

async fn until_ad_failure(flags: &Flags, wanted: bool) {
    eventually("adFailure has the value written", PATIENCE, || async {
        (flags.bool(AD_FAILURE).await == wanted).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_flag_flips_live_when_the_file_is_replaced_or_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flags.json");
    replace(&path, &flag_file(false, 0.0));
    let flags = Flags::new(&config(&path), &Telemetry::detached("ad"));
    assert!(flags.is_configured());
    until_ad_failure(&flags, false).await;

    replace(&path, &flag_file(true, 0.25));
    until_ad_failure(&flags, true).await;
    assert_eq!(flags.number(PAYMENT_FAILURE).await, 0.25);

    // In place, as `kubectl cp` or a text editor without backups would.
    std::fs::write(&path, flag_file(false, 1.0)).unwrap();
    until_ad_failure(&flags, false).await;
    assert_eq!(flags.number(PAYMENT_FAILURE).await, 1.0);
    assert!(flags.fraction(PAYMENT_FAILURE).await);
}

#[tokio::test]
async fn a_malformed_file_keeps_the_last_good_flags() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flags.json");
    replace(&path, &flag_file(true, 0.5));
    let flags = Flags::new(&config(&path), &Telemetry::detached("ad"));
    until_ad_failure(&flags, true).await;

    let refused = || async { flags.source_status().unwrap().refused };
    for bad in [
        "",
        "{",
        r#"{"flags": {"adFailure": {"state": "ENABLED"}}}"#,
        "[1, 2]",
    ] {
        let before = refused().await;
        replace(&path, bad);
        eventually("the bad file is refused", PATIENCE, || async {
            (refused().await > before).then_some(())
        })
        .await;
        assert!(flags.bool(AD_FAILURE).await, "{bad:?}");
        assert_eq!(flags.number(PAYMENT_FAILURE).await, 0.5, "{bad:?}");
    }
    // Removed, then back: the last good flags held meanwhile.
    let before = refused().await;
    std::fs::remove_file(&path).unwrap();
    eventually("the missing file is noticed", PATIENCE, || async {
        (refused().await > before).then_some(())
    })
    .await;
    assert!(flags.bool(AD_FAILURE).await);
    replace(&path, &flag_file(false, 0.5));
    until_ad_failure(&flags, false).await;
}

#[tokio::test]
async fn a_file_that_appears_later_is_picked_up() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("later.json");
    let flags = Flags::new(&config(&path), &Telemetry::detached("ad"));
    assert!(!flags.bool(AD_FAILURE).await, "no file yet: defaults");
    replace(&path, &flag_file(true, 0.0));
    until_ad_failure(&flags, true).await;
}

#[tokio::test]
async fn no_source_means_defaults_and_nothing_recorded() {
    let telemetry = Telemetry::detached("ad");
    let flags = Flags::new(&FlagsConfig::from_env(&Env::default()).unwrap(), &telemetry);
    assert!(!flags.is_configured());
    assert!(!flags.bool(AD_FAILURE).await);
    assert_eq!(flags.number(PAYMENT_FAILURE).await, 0.0);
    assert!(!flags.fraction(PAYMENT_FAILURE).await);
    assert!(!Flags::off().bool(AD_FAILURE).await);
    let text = telemetry.metrics().registry().render();
    assert!(!text.contains(EVALUATIONS_METRIC), "{text}");
}

#[tokio::test]
async fn targeting_picks_one_product_and_evaluations_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flags.json");
    replace(&path, &flag_file(true, 0.0));
    let telemetry = Telemetry::detached("catalog");
    let flags = Flags::new(&config(&path), &telemetry);
    until_ad_failure(&flags, true).await;

    let product = |id| [("product_id", id)];
    assert!(
        flags
            .bool_in(PRODUCT_CATALOG_FAILURE, &product("OLJCESPC7Z"))
            .await
    );
    assert!(
        !flags
            .bool_in(PRODUCT_CATALOG_FAILURE, &product("66VCHSJNUP"))
            .await
    );
    // A flag the file does not define is its default, and not counted.
    assert!(!flags.bool("noSuchFlag").await);

    let text = telemetry.metrics().registry().render();
    let count = |flag, variant| {
        sample(
            &text,
            EVALUATIONS_METRIC,
            &[
                ("service_name", "catalog"),
                ("flag", flag),
                ("variant", variant),
            ],
        )
    };
    assert_eq!(count(PRODUCT_CATALOG_FAILURE, "on"), Some(1.0));
    assert_eq!(count(PRODUCT_CATALOG_FAILURE, "off"), Some(1.0));
    assert!(count(AD_FAILURE, "on").unwrap() >= 1.0);
    assert!(!text.contains("noSuchFlag"), "{text}");
}

#[test]
fn an_evaluation_is_an_event_on_the_current_span() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let tracer = provider.tracer("test");
    let context = Context::current_with_span(tracer.start("GetAds"));
    {
        let _attached = context.clone().attach();
        record_on_span(&Evaluation {
            flag: AD_FAILURE,
            variant: Some("on"),
            reason: Some("STATIC".to_owned()),
            error: None,
        });
    }
    context.span().end();
    let spans = exporter.get_finished_spans().unwrap();
    let event = &spans[0].events.events[0];
    assert_eq!(event.name, EVALUATION_EVENT);
    let attribute = |key: &str| {
        event
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.to_string())
    };
    assert_eq!(attribute("feature_flag.key").as_deref(), Some(AD_FAILURE));
    assert_eq!(
        attribute("feature_flag.provider.name").as_deref(),
        Some("flagd")
    );
    assert_eq!(
        attribute("feature_flag.result.variant").as_deref(),
        Some("on")
    );
    assert_eq!(
        attribute("feature_flag.result.reason").as_deref(),
        Some("static")
    );
}
