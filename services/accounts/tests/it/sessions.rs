//! Ending sessions: one token signed out, every token signed out, and a
//! password change that signs out everything but the fresh token it returns.

use boutique_proto::boutique::accounts::v1::{
    ChangePasswordRequest, SignOutEverywhereRequest, SignOutRequest,
};
use tonic::Code;

use crate::helpers::{GOOD, K1, TestDb, assert_refused, craft, now_s, on_every_backend, spawn};

on_every_backend!(
    a_signed_out_token_is_refused_and_others_still_work,
    signing_out_everywhere_ends_every_older_token,
    a_password_change_ends_older_tokens_and_returns_a_fresh_one,
    ending_sessions_twice_in_a_second_ends_the_tokens_in_between,
);

async fn a_signed_out_token_is_refused_and_others_still_work(db: TestDb) {
    let mut app = spawn(&db, &[]).await;
    let first = app.sign_up("ivy@example.com", GOOD).await.unwrap();
    let id = first.account.unwrap().id;
    let second = app.sign_in("ivy@example.com", GOOD).await.unwrap().token;
    let sign_out = |token: &str| SignOutRequest {
        token: token.to_owned(),
    };
    app.client.sign_out(sign_out(&first.token)).await.unwrap();
    let status = assert_refused(
        app.whoami(&first.token).await,
        Code::Unauthenticated,
        "INVALID_TOKEN",
    );
    assert_eq!(status.message(), "the token was signed out");
    assert_eq!(app.whoami(&second).await.unwrap(), id);
    // Signing out again, or an expired token, is fine; a token we did not sign is not.
    app.client.sign_out(sign_out(&first.token)).await.unwrap();
    let expired = craft(&id, K1, now_s() - 7200, now_s() - 3600);
    app.client.sign_out(sign_out(&expired)).await.unwrap();
    let foreign = craft(&id, ("k1", [7; 32]), now_s(), now_s() + 60);
    assert_refused(
        app.client.sign_out(sign_out(&foreign)).await,
        Code::Unauthenticated,
        "INVALID_TOKEN",
    );
    app.server.stop().await;
}

async fn signing_out_everywhere_ends_every_older_token(db: TestDb) {
    let mut app = spawn(&db, &[]).await;
    let first = app.sign_up("jay@example.com", GOOD).await.unwrap();
    let id = first.account.unwrap().id;
    // Issued earlier in the same second as the sign-out, and a minute before.
    let same_second = craft(&id, K1, now_s(), now_s() + 600);
    let older = craft(&id, K1, now_s() - 60, now_s() + 600);
    app.client
        .sign_out_everywhere(SignOutEverywhereRequest {
            token: first.token.clone(),
        })
        .await
        .unwrap();
    for token in [&first.token, &same_second, &older] {
        let status = assert_refused(
            app.whoami(token).await,
            Code::Unauthenticated,
            "INVALID_TOKEN",
        );
        assert_eq!(status.message(), "the token was signed out");
    }
    // Signing in again right away gives a token that works.
    let again = app.sign_in("jay@example.com", GOOD).await.unwrap().token;
    assert_eq!(app.whoami(&again).await.unwrap(), id);
    app.server.stop().await;
}

async fn a_password_change_ends_older_tokens_and_returns_a_fresh_one(db: TestDb) {
    let mut app = spawn(&db, &[]).await;
    let first = app.sign_up("kim@example.com", GOOD).await.unwrap();
    let id = first.account.unwrap().id;
    let change = |current: &str, new: &str| ChangePasswordRequest {
        token: first.token.clone(),
        current_password: current.to_owned(),
        new_password: new.to_owned(),
        client_address: String::new(),
    };
    // The new password follows the rules; the current one must be right.
    assert_refused(
        app.client.change_password(change(GOOD, "1234567890")).await,
        Code::InvalidArgument,
        "WEAK_PASSWORD",
    );
    assert_refused(
        app.client
            .change_password(change("not the password", "a brand new secret"))
            .await,
        Code::Unauthenticated,
        "INVALID_CREDENTIALS",
    );
    let changed = app
        .client
        .change_password(change(GOOD, "a brand new secret"))
        .await
        .unwrap()
        .into_inner();
    assert_refused(
        app.whoami(&first.token).await,
        Code::Unauthenticated,
        "INVALID_TOKEN",
    );
    assert_eq!(app.whoami(&changed.token).await.unwrap(), id);
    assert_refused(
        app.sign_in("kim@example.com", GOOD).await,
        Code::Unauthenticated,
        "INVALID_CREDENTIALS",
    );
    let signed_in = app
        .sign_in("kim@example.com", "a brand new secret")
        .await
        .unwrap();
    assert_eq!(app.whoami(&signed_in.token).await.unwrap(), id);
    app.server.stop().await;
}

/// Tokens issued right after an end of sessions are dated at that end,
/// which may be ahead of the clock; a second end within the same second
/// must still refuse them.
async fn ending_sessions_twice_in_a_second_ends_the_tokens_in_between(db: TestDb) {
    let mut app = spawn(&db, &[]).await;
    let first = app.sign_up("lou@example.com", GOOD).await.unwrap();
    let changed = app
        .client
        .change_password(ChangePasswordRequest {
            token: first.token.clone(),
            current_password: GOOD.to_owned(),
            new_password: "a brand new secret".to_owned(), // pragma: allowlist secret
            client_address: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let laptop = app
        .sign_in("lou@example.com", "a brand new secret")
        .await
        .unwrap()
        .token;
    app.client
        .sign_out_everywhere(SignOutEverywhereRequest {
            token: changed.token.clone(),
        })
        .await
        .unwrap();
    for token in [&changed.token, &laptop] {
        assert_refused(
            app.whoami(token).await,
            Code::Unauthenticated,
            "INVALID_TOKEN",
        );
    }
    // A sign-in after it works.
    let again = app
        .sign_in("lou@example.com", "a brand new secret")
        .await
        .unwrap()
        .token;
    assert!(app.whoami(&again).await.is_ok());
    app.server.stop().await;
}
