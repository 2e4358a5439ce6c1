//! Tokens: tampered, expired, foreign and retired-key tokens are refused;
//! tokens of a key still listed are accepted (rotation); a key kept in the
//! data directory survives a restart.

use boutique_platform::Env;
use tonic::Code;

use crate::helpers::{
    GOOD, K1, Kind, TestDb, assert_refused, craft, key_list, now_s, on_every_backend, spawn,
    spawn_env,
};

on_every_backend!(
    tampered_expired_and_foreign_tokens_are_refused,
    rotation_accepts_listed_keys_and_refuses_retired_ones,
);

async fn tampered_expired_and_foreign_tokens_are_refused(db: TestDb) {
    let mut app = spawn(&db, &[]).await;
    let signed_up = app.sign_up("fay@example.com", GOOD).await.unwrap();
    let id = signed_up.account.unwrap().id;
    let token = signed_up.token;

    // Another account's id in the payload, the signature left as it was.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let other = craft("acct-someone-else", K1, now_s(), now_s() + 60);
    parts[1] = other.split('.').nth(1).unwrap().to_owned();
    let tampered = parts.join(".");
    let status = assert_refused(
        app.whoami(&tampered).await,
        Code::Unauthenticated,
        "INVALID_TOKEN",
    );
    assert_eq!(status.message(), "the token is not valid");

    // Our key, our claims, but past its expiry.
    let expired = craft(&id, K1, now_s() - 7200, now_s() - 3600);
    let status = assert_refused(
        app.whoami(&expired).await,
        Code::Unauthenticated,
        "INVALID_TOKEN",
    );
    assert_eq!(status.message(), "the token has expired");

    // The right kid with the wrong bytes, and garbage.
    let forged = craft(&id, ("k1", [9; 32]), now_s(), now_s() + 60);
    assert_refused(
        app.whoami(&forged).await,
        Code::Unauthenticated,
        "INVALID_TOKEN",
    );
    assert_refused(
        app.whoami("abc.def.ghi").await,
        Code::Unauthenticated,
        "INVALID_TOKEN",
    );
    let empty = app.whoami(" ").await.unwrap_err();
    assert_eq!(empty.code(), Code::InvalidArgument);

    // A well-made token of an account that does not exist.
    let ghost = craft("acct-ghost", K1, now_s(), now_s() + 60);
    assert_refused(
        app.whoami(&ghost).await,
        Code::Unauthenticated,
        "INVALID_TOKEN",
    );

    // The real token still works.
    assert_eq!(app.whoami(&token).await.unwrap(), id);
    app.server.stop().await;
}

async fn rotation_accepts_listed_keys_and_refuses_retired_ones(db: TestDb) {
    let new = ("new", [2; 32]);
    let old = ("old", [3; 32]);
    let retired = ("retired", [4; 32]);
    let mut app = spawn(&db, &[("ACCOUNTS_TOKEN_KEYS", &key_list(&[new, old]))]).await;
    let signed_up = app.sign_up("gus@example.com", GOOD).await.unwrap();
    let id = signed_up.account.unwrap().id;
    // New tokens are signed with the first key.
    let header = jsonwebtoken::decode_header(&signed_up.token).unwrap();
    assert_eq!(header.kid.as_deref(), Some("new"));

    let by_old = craft(&id, old, now_s(), now_s() + 600);
    assert_eq!(app.whoami(&by_old).await.unwrap(), id);
    let by_retired = craft(&id, retired, now_s(), now_s() + 600);
    assert_refused(
        app.whoami(&by_retired).await,
        Code::Unauthenticated,
        "INVALID_TOKEN",
    );
    app.server.stop().await;
}

/// Without configured keys, a key is made in the data directory (beside the
/// SQLite file, owner-only) and a restart still accepts the tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_key_is_kept_in_the_data_directory() {
    let db = TestDb::new(Kind::SqliteFile).unwrap();
    let env = Env::from_pairs([
        ("LISTEN_ADDR", "127.0.0.1"),
        ("PORT", "0"),
        ("DATABASE_URL", db.url.as_str()),
    ]);
    let mut first = spawn_env(&env).await;
    let token = first.sign_up("hal@example.com", GOOD).await.unwrap().token;
    first.server.stop().await;

    let key_file = db.dir.as_ref().unwrap().path().join("accounts-token.keys");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&key_file).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);

    let mut second = spawn_env(&env).await;
    assert!(second.whoami(&token).await.unwrap().starts_with("acct-"));
    second.server.stop().await;
}
