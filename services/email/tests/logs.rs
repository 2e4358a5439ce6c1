//! Without `SMTP_URL` a confirmation is only logged, and the call succeeds.
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

use helpers::{eur_order, request, spawn_app};

// Current-thread runtime: the server's spawned tasks run on this thread, so
// the thread-local default subscriber sees their events too.
#[tokio::test(flavor = "current_thread")]
async fn without_smtp_it_only_logs_and_succeeds() {
    let buffer = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(buffer.clone())
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let mut app = spawn_app(&[]).await;
    app.client
        .send_order_confirmation(request("ana@example.org", eur_order()))
        .await
        .expect("the call succeeds without SMTP");
    app.server.stop().await;

    let log = buffer.text();
    assert!(
        log.contains("SMTP_URL is not set: order confirmations are logged, not sent."),
        "{log}"
    );
    let logged: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("the order confirmation would have been sent"))
        .collect();
    assert_eq!(logged.len(), 1, "one log line per confirmation:\n{log}");
    assert!(logged[0].contains("order_id=\"order-eur-0001\""), "{log}");
    assert!(
        logged[0].contains("recipient_domain=\"example.org\""),
        "{log}"
    );
    // Only logged: nothing was handed to a relay, and the address itself,
    // personal data, stays out of the log.
    assert!(!log.contains("Sent the order confirmation."), "{log}");
    assert!(!log.contains("ana@example.org"), "{log}");
}
