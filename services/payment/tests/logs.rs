//! Log capture: the full card number never reaches a log line, the last four do.
//!
//! This is its own test binary, with this one test, on purpose: tracing caches
//! each call site's interest globally, and a call site first hit by another
//! test's thread while this test installs its thread-local subscriber can be
//! cached as "never", silently dropping the events this test looks for.

use boutique_testkit::logs::LogBuffer;

// Shared with the `it` binary; this test uses only part of it.
#[allow(dead_code)]
#[path = "it/helpers.rs"]
mod helpers;

use helpers::{charge, charge_with, spawn_app};

// Current-thread runtime: the server's spawned tasks run on this thread, so
// the thread-local default subscriber sees their events too.
#[tokio::test(flavor = "current_thread")]
async fn card_numbers_never_reach_the_log() {
    let buffer = LogBuffer::default();
    // Everything, at every level, from every crate (tonic, h2, hyper included).
    let subscriber = tracing_subscriber::fmt()
        .with_writer(buffer.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let mut app = spawn_app().await;
    let accepted = "4432801561520454";
    app.client.charge(charge(accepted)).await.unwrap();
    // Refusals: expired (message carries the last four), another brand, bad CVV,
    // and an invalid number.
    let expired = "5272940000751666";
    let request = charge_with(expired, |card| card.credit_card_expiration_year = 2020);
    app.client.charge(request).await.unwrap_err();
    let amex = "378282246310005";
    app.client.charge(charge(amex)).await.unwrap_err();
    let bad_cvv = "5555555555554444";
    let request = charge_with(bad_cvv, |card| card.credit_card_cvv = 0);
    app.client.charge(request).await.unwrap_err();
    let invalid = "4111111111111112";
    app.client.charge(charge(invalid)).await.unwrap_err();
    app.server.stop().await;

    let log = buffer.text();
    assert!(log.contains("Charged card."), "{log}");
    assert!(log.contains("Refused charge"), "{log}");
    assert!(log.contains("0454"), "the last four are logged: {log}");
    assert!(log.contains("ending 1666"), "{log}");
    for number in [accepted, expired, amex, bad_cvv, invalid] {
        assert!(
            !log.contains(number),
            "{number} leaked into the log:\n{log}"
        );
        // Nor any long run of it (e.g. the first twelve digits).
        assert!(
            !log.contains(&number[..12]),
            "{number} leaked into the log:\n{log}"
        );
    }
}
