//! The account book on every backend: one account per email, revocation,
//! ending sessions, deletion, throttling counts and pruning.

use std::sync::Arc;

use boutique_store::{
    AccountBook,
    accounts::{Created, NewAccount},
};
use tokio::sync::Barrier;

use crate::helpers::{TestDb, on_every_backend};

on_every_backend!(
    an_email_makes_one_account_whatever_its_case,
    concurrent_sign_ups_of_one_email_make_one_account,
    tokens_are_revoked_one_by_one_or_all_at_once,
    a_deleted_account_is_gone_with_its_revocations,
    failures_are_counted_per_subject_within_the_window,
    pruning_removes_only_what_expired,
);

fn new_account(id: &str, email: &str) -> NewAccount {
    NewAccount {
        id: id.to_owned(),
        email: email.to_owned(),
        email_key: email.trim().to_lowercase(),
        display_name: "Ada".to_owned(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
    }
}

async fn an_email_makes_one_account_whatever_its_case(db: TestDb) {
    let book = AccountBook::new(&db.open().await);
    let Created::Created(account) = book
        .create(&new_account("acct-1", "Ada@Example.com"))
        .await
        .unwrap()
    else {
        panic!("a new email makes an account");
    };
    assert_eq!(account.email, "Ada@Example.com");
    assert_eq!(account.sessions_valid_after_ms, 0);
    let taken = book
        .create(&new_account("acct-2", "ada@EXAMPLE.com"))
        .await
        .unwrap();
    assert_eq!(taken, Created::EmailTaken);

    let found = book
        .find_by_email("ada@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, account);
    assert_eq!(book.get("acct-1").await.unwrap(), Some(account));
    assert_eq!(book.get("acct-2").await.unwrap(), None);
    assert_eq!(book.find_by_email("bob@example.com").await.unwrap(), None);
}

async fn concurrent_sign_ups_of_one_email_make_one_account(db: TestDb) {
    let book = AccountBook::new(&db.open().await);
    let barrier = Arc::new(Barrier::new(8));
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let book = book.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                book.create(&new_account(&format!("acct-{i}"), "same@example.com"))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        if matches!(task.await.unwrap(), Created::Created(_)) {
            created += 1;
        }
    }
    assert_eq!(created, 1);
}

async fn tokens_are_revoked_one_by_one_or_all_at_once(db: TestDb) {
    let book = AccountBook::new(&db.open().await);
    book.create(&new_account("acct-1", "a@example.com"))
        .await
        .unwrap();
    let session = book.session("acct-1", "jti-1").await.unwrap().unwrap();
    assert!(!session.revoked);
    assert_eq!(session.account.id, "acct-1");

    book.revoke_token("jti-1", "acct-1", i64::MAX)
        .await
        .unwrap();
    // Twice is fine.
    book.revoke_token("jti-1", "acct-1", i64::MAX)
        .await
        .unwrap();
    assert!(
        book.session("acct-1", "jti-1")
            .await
            .unwrap()
            .unwrap()
            .revoked
    );
    assert!(
        !book
            .session("acct-1", "jti-2")
            .await
            .unwrap()
            .unwrap()
            .revoked
    );
    assert_eq!(book.session("acct-9", "jti-1").await.unwrap(), None);

    assert!(book.end_sessions("acct-1", 5_000).await.unwrap());
    // Never moved back.
    assert!(book.end_sessions("acct-1", 4_000).await.unwrap());
    let account = book.get("acct-1").await.unwrap().unwrap();
    assert_eq!(account.sessions_valid_after_ms, 5_000);
    assert!(!book.end_sessions("acct-9", 5_000).await.unwrap());

    assert!(
        book.change_password("acct-1", "$argon2id$new", 9_000)
            .await
            .unwrap()
    );
    let account = book.get("acct-1").await.unwrap().unwrap();
    assert_eq!(account.password_hash, "$argon2id$new");
    assert_eq!(account.sessions_valid_after_ms, 9_000);
    assert!(!book.change_password("acct-9", "h", 1).await.unwrap());
}

async fn a_deleted_account_is_gone_with_its_revocations(db: TestDb) {
    let book = AccountBook::new(&db.open().await);
    book.create(&new_account("acct-1", "a@example.com"))
        .await
        .unwrap();
    book.revoke_token("jti-1", "acct-1", i64::MAX)
        .await
        .unwrap();
    assert!(book.delete("acct-1").await.unwrap());
    assert!(!book.delete("acct-1").await.unwrap());
    assert_eq!(book.get("acct-1").await.unwrap(), None);
    assert_eq!(book.session("acct-1", "jti-2").await.unwrap(), None);
    assert_eq!(book.counts().await.unwrap().tokens, 0);
    // The email is free again, for a new account with a new id.
    let again = book
        .create(&new_account("acct-2", "A@example.com"))
        .await
        .unwrap();
    assert!(matches!(again, Created::Created(_)));
}

async fn failures_are_counted_per_subject_within_the_window(db: TestDb) {
    let book = AccountBook::new(&db.open().await);
    let window = 1_000;
    for at in [100, 200, 300] {
        book.record_failures(&[("email", "e1"), ("address", "a1")], at)
            .await
            .unwrap();
    }
    book.record_failures(&[("email", "e2")], 250).await.unwrap();
    // Three failures of e1 since 0: a limit of 3 is reached; the third
    // newest (at 100) leaves the window at 1100.
    assert_eq!(
        book.throttled_until("email", "e1", 0, window, 3)
            .await
            .unwrap(),
        Some(1_100)
    );
    // With a limit of 2 the second newest (at 200) decides.
    assert_eq!(
        book.throttled_until("email", "e1", 0, window, 2)
            .await
            .unwrap(),
        Some(1_200)
    );
    assert_eq!(
        book.throttled_until("email", "e1", 0, window, 4)
            .await
            .unwrap(),
        None
    );
    // Failures before the window do not count.
    assert_eq!(
        book.throttled_until("email", "e1", 150, window, 3)
            .await
            .unwrap(),
        None
    );
    // Subjects and scopes are apart.
    assert_eq!(
        book.throttled_until("email", "e2", 0, window, 2)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        book.throttled_until("address", "a1", 0, window, 3)
            .await
            .unwrap(),
        Some(1_100)
    );
    assert_eq!(
        book.throttled_until("email", "e1", 0, window, 0)
            .await
            .unwrap(),
        None
    );

    book.clear_failures("email", "e1").await.unwrap();
    assert_eq!(
        book.throttled_until("email", "e1", 0, window, 1)
            .await
            .unwrap(),
        None
    );
    assert!(
        book.throttled_until("address", "a1", 0, window, 1)
            .await
            .unwrap()
            .is_some()
    );
}

async fn pruning_removes_only_what_expired(db: TestDb) {
    let book = AccountBook::new(&db.open().await);
    book.revoke_token("old", "acct-1", 1_000).await.unwrap();
    book.revoke_token("new", "acct-1", 3_000).await.unwrap();
    book.record_failures(&[("email", "e")], 500).await.unwrap();
    book.record_failures(&[("email", "e")], 2_500)
        .await
        .unwrap();
    let pruned = book.prune(2_000, 2_000).await.unwrap();
    assert_eq!(pruned.tokens, 1);
    assert_eq!(pruned.failures, 1);
    let kept = book.counts().await.unwrap();
    assert_eq!((kept.tokens, kept.failures), (1, 1));
}
