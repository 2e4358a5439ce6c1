//! Throttled sign-ins per email and per client address, and the same answer
//! for an unknown email as for a wrong password.

use std::collections::HashMap;

use boutique_platform::error::error_reason;
use tonic::{Code, Status};

use crate::helpers::{GOOD, TestDb, assert_refused, on_every_backend, spawn};

on_every_backend!(
    an_unknown_email_is_answered_like_a_wrong_password,
    an_email_is_throttled_after_its_failures,
    an_address_is_throttled_after_its_failures,
);

/// What a caller can see of a refusal, but the retry time.
fn visible(status: &Status) -> (Code, String, Option<String>) {
    (
        status.code(),
        status.message().to_owned(),
        error_reason(status).map(|(reason, _)| reason),
    )
}

fn retry_after(status: &Status) -> u64 {
    let (_, metadata): (String, HashMap<String, String>) = error_reason(status).unwrap();
    let seconds: u64 = metadata["retry_after_seconds"].parse().unwrap();
    let header = status
        .metadata()
        .get("retry-after")
        .expect("a retry-after header");
    assert_eq!(header.to_str().unwrap(), seconds.to_string());
    seconds
}

async fn an_unknown_email_is_answered_like_a_wrong_password(db: TestDb) {
    let mut app = spawn(&db, &[]).await;
    app.sign_up("lee@example.com", GOOD).await.unwrap();
    let wrong = app
        .sign_in("lee@example.com", "not the password")
        .await
        .unwrap_err();
    let unknown = app
        .sign_in("nobody@example.com", "not the password")
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::Unauthenticated);
    assert_eq!(wrong.code(), unknown.code());
    assert_eq!(wrong.message(), unknown.message());
    assert_eq!(wrong.details(), unknown.details());
    assert_eq!(wrong.message(), "the email or password is wrong");
    assert_eq!(
        app.metric(
            "boutique_accounts_sign_ins_total",
            &[("outcome", "bad_credentials")]
        ),
        2.0
    );
    app.server.stop().await;
}

async fn an_email_is_throttled_after_its_failures(db: TestDb) {
    let mut app = spawn(
        &db,
        &[
            ("ACCOUNTS_MAX_FAILURES_PER_EMAIL", "2"),
            ("ACCOUNTS_MAX_FAILURES_PER_ADDRESS", "0"),
            ("ACCOUNTS_SIGN_IN_WINDOW", "10m"),
        ],
    )
    .await;
    app.sign_up("max@example.com", GOOD).await.unwrap();
    let mut throttled = Vec::new();
    for email in ["max@example.com", "nobody@example.com"] {
        for _ in 0..2 {
            assert_refused(
                app.sign_in(email, "not the password").await,
                Code::Unauthenticated,
                "INVALID_CREDENTIALS",
            );
        }
        // Now even the right password is not checked.
        let status = assert_refused(
            app.sign_in(email, GOOD).await,
            Code::ResourceExhausted,
            "SIGN_IN_THROTTLED",
        );
        let seconds = retry_after(&status);
        assert!((1..=600).contains(&seconds), "{seconds}");
        throttled.push(status);
    }
    // A known and an unknown email are throttled alike.
    assert_eq!(visible(&throttled[0]), visible(&throttled[1]));
    // Another email, from the same address, is not throttled.
    app.sign_up("ned@example.com", GOOD).await.unwrap();
    app.sign_in("ned@example.com", GOOD).await.unwrap();
    assert_eq!(
        app.metric("boutique_accounts_throttled_total", &[("by", "email")]),
        2.0
    );
    assert_eq!(
        app.metric(
            "boutique_accounts_sign_ins_total",
            &[("outcome", "throttled")]
        ),
        2.0
    );
    app.server.stop().await;
}

async fn an_address_is_throttled_after_its_failures(db: TestDb) {
    let mut app = spawn(
        &db,
        &[
            ("ACCOUNTS_MAX_FAILURES_PER_EMAIL", "0"),
            ("ACCOUNTS_MAX_FAILURES_PER_ADDRESS", "2"),
        ],
    )
    .await;
    app.sign_up("ola@example.com", GOOD).await.unwrap();
    // Two failures on different emails from one address (the port varies).
    for (email, address) in [
        ("ola@example.com", "198.51.100.7:1000"),
        ("pat@example.com", "198.51.100.7:2000"),
    ] {
        assert_refused(
            app.sign_in_from(email, "not the password", address).await,
            Code::Unauthenticated,
            "INVALID_CREDENTIALS",
        );
    }
    let status = assert_refused(
        app.sign_in_from("ola@example.com", GOOD, "198.51.100.7")
            .await,
        Code::ResourceExhausted,
        "SIGN_IN_THROTTLED",
    );
    assert!(retry_after(&status) >= 1);
    // The same account from another address signs in.
    app.sign_in_from("ola@example.com", GOOD, "198.51.100.8")
        .await
        .unwrap();
    assert_eq!(
        app.metric("boutique_accounts_throttled_total", &[("by", "address")]),
        1.0
    );
    app.server.stop().await;
}
