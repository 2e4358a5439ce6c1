//! Log capture: a session id (the key to a cart) never reaches a log line or
//! a span; its tag (the first 12 hex digits of its SHA-256) does, and it is
//! the tag the footer shows.
//!
//! This is its own test binary, with this one test, on purpose: tracing caches
//! each call site's interest globally, and a call site first hit by another
//! test's thread while this test installs its thread-local subscriber can be
//! cached as "never", silently dropping the events this test looks for.

use boutique_testkit::logs::LogBuffer;
use reqwest::Client;
use tracing_subscriber::{filter::Targets, layer::SubscriberExt};

// Shared with the `it` binary; this test uses only part of it.
#[allow(dead_code)]
#[path = "it/helpers.rs"]
mod helpers;

use helpers::{Shop, as_pairs, checkout_form, cookie_value, set_cookies, this_year};

fn sha256_tag(id: &str) -> String {
    let hash = ring::digest::digest(&ring::digest::SHA256, id.as_bytes());
    let hex: String = hash.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    hex[..12].to_owned()
}

// Current-thread runtime: the servers' spawned tasks run on this thread, so
// the thread-local default subscriber sees their events too.
#[tokio::test(flavor = "current_thread")]
async fn session_ids_never_reach_the_log() {
    let buffer = LogBuffer::default();
    // Everything, at every level, from every crate of the shop (hyper, h2,
    // tonic and axum included), in spans too; only the test's own HTTP client
    // (reqwest and its cookie jar, which hold the cookie by design) is left out.
    let shop_only = Targets::new()
        .with_default(tracing::Level::TRACE)
        .with_target("reqwest", tracing::level_filters::LevelFilter::OFF)
        .with_target("cookie_store", tracing::level_filters::LevelFilter::OFF);
    let subscriber = tracing_subscriber::registry().with(shop_only).with(
        tracing_subscriber::fmt::layer()
            .with_writer(buffer.clone())
            .with_ansi(false),
    );
    let _guard = tracing::subscriber::set_default(subscriber);

    let shop =
        Shop::start_with(&[("SESSION_SECRET", "a-secret-for-the-log-test-0123456789")]).await;
    let browser = shop.browser();
    let first = browser.get("/").await;
    let cookie = cookie_value(&set_cookies(&first), "shop_session-id").unwrap();
    let (id, signature) = cookie.split_once('.').unwrap();
    let footer = first.text().await.unwrap();
    // A whole visit: pages, a product, the cart, a currency, an error page, an
    // order, the orders.
    browser.page("/product/OLJCESPC7Z").await;
    browser.add_to_cart("OLJCESPC7Z", 2).await;
    browser.page("/cart").await;
    browser.set_currency("EUR").await;
    browser.get("/product/NOSUCHTHING").await;
    let form = checkout_form("4432801561520454", this_year() + 1);
    browser.post("/cart/checkout", &as_pairs(&form)).await;
    // The orders are asked for by the session id (their owner).
    browser.page("/orders").await;
    browser.get("/api/v1/orders").await;
    browser.get("/logout").await;
    // A forged cookie (someone else's id, unsigned) is not logged either.
    let forged = "0b6f5a8e-4f38-4c43-9d3f-2f0f2f7b9a11";
    Client::new()
        .get(format!("{}/", shop.url))
        .header("cookie", format!("shop_session-id={forged}"))
        .send()
        .await
        .unwrap();
    shop.stop_frontend().await;

    let log = buffer.text();
    let tag = sha256_tag(id);
    assert!(log.contains("Served request."), "{log}");
    assert!(
        log.contains(&format!("session={tag}")),
        "the tag {tag} is logged: {log}"
    );
    assert!(log.contains("session_origin=\"minted\"") || log.contains("session_origin=minted"));
    assert!(
        footer.contains(&format!("session: <code>{tag}</code>")),
        "the footer shows the logged tag"
    );
    for secret in [id, signature, forged] {
        assert!(
            !log.contains(secret),
            "{secret} leaked into the log:\n{log}"
        );
    }
    // Nor any part long enough to matter (the ids' last group, 12 hex digits).
    for secret in [id, forged] {
        let tail = &secret[24..];
        assert!(!log.contains(tail), "{tail} leaked into the log:\n{log}");
    }
}
