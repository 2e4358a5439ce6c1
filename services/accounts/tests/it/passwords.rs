//! Signing up and in: one account per email in any case, the password rules
//! with their reasons, bad input, and deleting an account.

use boutique_platform::error::error_reason;
use boutique_proto::boutique::{
    accounts::v1::{DeleteAccountRequest, SignUpRequest},
    orders::v1::{
        BeginOrderRequest, GetOrderRequest, ListOrdersRequest,
        order_service_client::OrderServiceClient,
    },
};
use tonic::Code;

use crate::helpers::{GOOD, TestDb, assert_refused, on_every_backend, spawn};

on_every_backend!(
    sign_up_sign_in_and_authenticate,
    an_email_has_one_account_whatever_its_case,
    weak_passwords_are_refused_with_their_rule,
    a_deleted_account_can_neither_authenticate_nor_sign_in,
    a_deleted_accounts_orders_stay_anonymised,
);

async fn sign_up_sign_in_and_authenticate(db: TestDb) {
    let mut app = spawn(&db, &[]).await;
    let signed_up = app.sign_up("  Ada@Example.com ", GOOD).await.unwrap();
    let account = signed_up.account.unwrap();
    // Never a bare UUID, which is what a guest's session id is.
    let uuid = account.id.strip_prefix("acct-").expect("acct- prefix");
    assert_eq!(uuid.len(), 36, "{}", account.id);
    assert_eq!(account.email, "Ada@Example.com");
    assert_eq!(account.display_name, "Ada");
    assert!(signed_up.expires_at_ms > account.created_at_ms);
    assert_eq!(app.whoami(&signed_up.token).await.unwrap(), account.id);

    // Any case of the email signs in to the same account.
    let signed_in = app.sign_in("ADA@example.COM", GOOD).await.unwrap();
    assert_eq!(signed_in.account.unwrap().id, account.id);
    assert_ne!(signed_in.token, signed_up.token);
    assert_eq!(app.whoami(&signed_in.token).await.unwrap(), account.id);
    assert_eq!(
        app.metric(
            "boutique_accounts_sign_ups_total",
            &[("outcome", "success")]
        ),
        1.0
    );
    assert_eq!(
        app.metric(
            "boutique_accounts_sign_ins_total",
            &[("outcome", "success")]
        ),
        1.0
    );
    app.server.stop().await;
}

async fn an_email_has_one_account_whatever_its_case(db: TestDb) {
    let mut app = spawn(&db, &[]).await;
    app.sign_up("bob@example.com", GOOD).await.unwrap();
    for again in ["bob@example.com", "BOB@Example.COM"] {
        let status = assert_refused(
            app.sign_up(again, "another fine password").await,
            Code::AlreadyExists,
            "EMAIL_TAKEN",
        );
        assert_eq!(status.message(), "an account with this email exists");
    }
    assert_eq!(
        app.metric(
            "boutique_accounts_sign_ups_total",
            &[("outcome", "email_taken")]
        ),
        2.0
    );
    app.server.stop().await;
}

async fn weak_passwords_are_refused_with_their_rule(db: TestDb) {
    let mut app = spawn(&db, &[]).await;
    let long = "x".repeat(129);
    for (password, rule, message) in [
        ("short pw", "too_short", "at least 10 characters"),
        // Nine characters, 18 bytes: characters are counted.
        ("ééééééééé", "too_short", "at least 10 characters"),
        (long.as_str(), "too_long", "at most 128 characters"),
        ("Basketball", "common", "most common passwords"),
        ("QWERTYUIOP", "common", "most common passwords"),
        (
            "carol@example.com",
            "same_as_email",
            "must not be the email",
        ),
    ] {
        let status = app
            .sign_up("Carol@Example.com", password)
            .await
            .unwrap_err();
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{password}: {status:?}"
        );
        assert!(
            status.message().contains(message),
            "{password}: {}",
            status.message()
        );
        let (reason, metadata) = error_reason(&status).expect("a reason");
        assert_eq!(reason, "WEAK_PASSWORD");
        assert_eq!(metadata["rule"], rule, "{password}");
        assert_eq!(metadata["min_length"], "10");
    }
    // Malformed fields are INVALID_ARGUMENT naming the field, without a reason.
    for (email, name, message) in [
        ("", "", "email is required"),
        ("not-an-email", "", "email is not an email address"),
        ("dan@example.com", "bad\nname", "display_name"),
    ] {
        let status = app
            .client
            .sign_up(SignUpRequest {
                email: email.to_owned(),
                display_name: name.to_owned(),
                password: GOOD.to_owned(),
                client_address: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains(message), "{}", status.message());
    }
    assert_eq!(
        app.metric(
            "boutique_accounts_sign_ups_total",
            &[("outcome", "weak_password")]
        ),
        6.0
    );
    // Nothing was created.
    assert!(app.sign_up("carol@example.com", GOOD).await.is_ok());
    app.server.stop().await;
}

async fn a_deleted_account_can_neither_authenticate_nor_sign_in(db: TestDb) {
    let mut app = spawn(&db, &[]).await;
    let token = app.sign_up("erin@example.com", GOOD).await.unwrap().token;
    let delete = |password: &str| DeleteAccountRequest {
        token: token.clone(),
        password: password.to_owned(),
        client_address: String::new(),
    };
    // The password is checked first.
    assert_refused(
        app.client.delete_account(delete("not my password")).await,
        Code::Unauthenticated,
        "INVALID_CREDENTIALS",
    );
    assert!(app.whoami(&token).await.is_ok());
    app.client.delete_account(delete(GOOD)).await.unwrap();

    assert_refused(
        app.whoami(&token).await,
        Code::Unauthenticated,
        "INVALID_TOKEN",
    );
    assert_refused(
        app.sign_in("erin@example.com", GOOD).await,
        Code::Unauthenticated,
        "INVALID_CREDENTIALS",
    );
    app.server.stop().await;
}

async fn a_deleted_accounts_orders_stay_anonymised(db: TestDb) {
    let mut app = spawn(&db, &[]).await;
    let signed_up = app.sign_up("frank@example.com", GOOD).await.unwrap();
    let account_id = signed_up.account.unwrap().id;
    let orders_server = app.orders.take().expect("the test's own orders service");
    let mut orders = OrderServiceClient::new(orders_server.channel().await);
    let order = orders
        .begin_order(BeginOrderRequest {
            owner: account_id.clone(),
            cart_id: account_id.clone(),
            request_digest: "digest".to_owned(),
            email: "frank@example.com".to_owned(),
            currency_code: "USD".to_owned(),
            card_last_four: "0454".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    let delete = |token: &str| DeleteAccountRequest {
        token: token.to_owned(),
        password: GOOD.to_owned(),
        client_address: String::new(),
    };
    app.client
        .delete_account(delete(&signed_up.token))
        .await
        .unwrap();
    let kept = orders
        .get_order(GetOrderRequest {
            order_id: order.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(kept.owner.starts_with("deleted-"), "{}", kept.owner);
    assert_eq!(kept.email, "");
    let listed = orders
        .list_orders(ListOrdersRequest {
            owner: account_id,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(listed.orders.is_empty());

    // With the orders service down nothing is deleted: the account stays.
    let token = app.sign_up("grace@example.com", GOOD).await.unwrap().token;
    orders_server.stop().await;
    let status = app.client.delete_account(delete(&token)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(app.whoami(&token).await.is_ok());
    app.server.stop().await;
}
