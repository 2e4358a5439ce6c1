//! Delivery: to a real SMTP server, and when the relay fails. Without one,
//! see `tests/logs.rs`.

use std::time::Duration;

use boutique_testkit::{free_port, smtp::SmtpServer};
use tonic::Code;

use crate::{
    helpers::{address, eur_order, request, spawn_app, usd_order},
    mail::Mail,
};

const FROM: &str = "Boutique Test <shop@example.com>";
const HOSTILE_STREET: &str = "<script>alert('x')</script> & 1 Main St";

/// What one confirmation must say, in both versions.
struct Expected<'a> {
    to: &'a str,
    order_id: &'a str,
    tracking_id: &'a str,
    /// Lines of the text version, exactly.
    text_lines: &'a [&'a str],
    /// Fragments of the HTML version.
    html_fragments: &'a [&'a str],
}

/// Checks the envelope, the headers, the MIME structure and both bodies;
/// returns the decoded (text, html).
fn check_confirmation(raw: &str, expected: &Expected<'_>) -> (String, String) {
    let mail = Mail::parse(raw);
    // The envelope, as aiosmtpd recorded it, and the headers.
    assert_eq!(mail.header("X-RcptTo"), Some(expected.to), "{raw}");
    assert_eq!(mail.header("X-MailFrom"), Some("shop@example.com"), "{raw}");
    assert_eq!(mail.header("To"), Some(expected.to), "{raw}");
    // lettre quotes the display name; both spellings mean the same mailbox.
    assert_eq!(
        mail.header("From"),
        Some("\"Boutique Test\" <shop@example.com>"),
        "{raw}"
    );
    assert_eq!(
        mail.header("Subject"),
        Some(format!("Your Boutique order {}", expected.order_id).as_str()),
        "{raw}"
    );
    assert!(mail.header("Date").is_some(), "{raw}");
    assert!(mail.header("Message-ID").is_some(), "{raw}");

    assert_eq!(mail.mime_type(), "multipart/alternative", "{raw}");
    let parts = mail.parts();
    assert_eq!(parts.len(), 2, "{raw}");
    // Plain text first: clients show the last alternative they understand.
    assert_eq!(parts[0].mime_type(), "text/plain", "{raw}");
    assert_eq!(parts[1].mime_type(), "text/html", "{raw}");
    for part in &parts {
        assert_eq!(
            part.header("Content-Type").map(str::to_ascii_lowercase),
            Some(format!("{}; charset=utf-8", part.mime_type())),
            "{raw}"
        );
    }
    let text = parts[0].decoded_body();
    let html = parts[1].decoded_body();

    let text_lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    for line in [
        format!("Order number:   {}", expected.order_id),
        format!("Tracking:       {}", expected.tracking_id),
    ]
    .iter()
    .map(String::as_str)
    .chain(expected.text_lines.iter().copied())
    {
        assert!(text_lines.contains(&line), "missing {line:?} in:\n{text}");
    }
    for fragment in [expected.order_id, expected.tracking_id]
        .iter()
        .chain(expected.html_fragments)
    {
        assert!(html.contains(fragment), "missing {fragment:?} in:\n{html}");
    }
    (text, html)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(missing_aiosmtpd, ignore = "needs aiosmtpd (PyPI aiosmtpd)")]
async fn sends_a_confirmation_per_order_to_a_real_smtp_server() {
    let Some(smtp) = SmtpServer::start() else {
        return;
    };
    let url = smtp.url();
    let mut app = spawn_app(&[("SMTP_URL", url.as_str()), ("EMAIL_FROM", FROM)]).await;

    let mut eur = eur_order();
    eur.shipping_address = Some(address(HOSTILE_STREET));
    app.client
        .send_order_confirmation(request("ana@example.org", eur))
        .await
        .unwrap();
    let messages = smtp.wait_for_messages(1, Duration::from_secs(10));
    assert_eq!(messages.len(), 1, "exactly one message per confirmation");
    let (text, html) = check_confirmation(
        &messages[0],
        &Expected {
            to: "ana@example.org",
            order_id: "order-eur-0001",
            tracking_id: "QR-21315-105107689",
            text_lines: &[
                // 3 × 19.99 = 59.97; 2 × 5.50 = 11.00.
                "- OLJCESPC7Z x 3 at €19.99 = €59.97",
                "- 66VCHSJNUP x 2 at €5.50 = €11.00",
                "Shipping:       €8.15",
                // 59.97 + 11.00 + 8.15
                "Total (EUR):    €79.12",
                "  Mountain View, CA 94043",
            ],
            html_fragments: &[
                "OLJCESPC7Z",
                "66VCHSJNUP",
                "€19.99",
                "€59.97",
                "€5.50",
                "€11.00",
                "€8.15",
                "€79.12",
                "Mountain View, CA 94043",
            ],
        },
    );
    // The hostile street is escaped in HTML, and kept verbatim in plain text.
    assert!(!html.contains("<script"), "{html}");
    assert!(
        html.contains("&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62; &#38; 1 Main St"),
        "{html}"
    );
    assert!(text.contains(&format!("  {HOSTILE_STREET}")), "{text}");

    app.client
        .send_order_confirmation(request("bo@example.net", usd_order()))
        .await
        .unwrap();
    let messages = smtp.wait_for_messages(2, Duration::from_secs(10));
    assert_eq!(messages.len(), 2);
    let usd = messages
        .iter()
        .find(|raw| raw.contains("order-usd-0002"))
        .expect("the USD confirmation");
    check_confirmation(
        usd,
        &Expected {
            to: "bo@example.net",
            order_id: "order-usd-0002",
            tracking_id: "ZZ-44000-220000000",
            text_lines: &[
                "- 1YMWWN1N4O x 1 at $34.99 = $34.99",
                "- 9SIQT8TOJO x 7 at $0.10 = $0.70",
                "Shipping:       $8.99",
                // 34.99 + 0.70 + 8.99
                "Total (USD):    $44.68",
                "  1 Infinite Loop",
            ],
            html_fragments: &[
                "1YMWWN1N4O",
                "9SIQT8TOJO",
                "$34.99",
                "$0.70",
                "$8.99",
                "$44.68",
            ],
        },
    );
    app.server.stop().await;
}

/// Sends the EUR order and returns the error status.
async fn send_and_fail(extra: &[(&str, &str)]) -> tonic::Status {
    let mut app = spawn_app(extra).await;
    let status = app
        .client
        .send_order_confirmation(request("ana@example.org", eur_order()))
        .await
        .unwrap_err();
    app.server.stop().await;
    status
}

fn assert_delivery_failed(status: &tonic::Status) {
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        status.message().starts_with("email delivery failed: "),
        "{status:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(missing_aiosmtpd, ignore = "needs aiosmtpd (PyPI aiosmtpd)")]
async fn a_stopped_smtp_server_is_unavailable() {
    let Some(mut smtp) = SmtpServer::start() else {
        return;
    };
    let url = smtp.url();
    smtp.stop();
    let status = send_and_fail(&[("SMTP_URL", url.as_str())]).await;
    assert_delivery_failed(&status);
}

#[tokio::test]
async fn an_unreachable_relay_is_unavailable() {
    let url = format!("smtp://127.0.0.1:{}", free_port());
    let status = send_and_fail(&[("SMTP_URL", url.as_str())]).await;
    assert_delivery_failed(&status);
}

#[tokio::test]
async fn a_relay_that_never_answers_times_out_as_unavailable() {
    // Accepts connections and holds them without ever greeting.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("smtp://{}", listener.local_addr().unwrap());
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let status = send_and_fail(&[("SMTP_URL", url.as_str()), ("SMTP_TIMEOUT", "300ms")]).await;
    assert_delivery_failed(&status);
    assert!(
        status.message().contains("did not finish within 300ms"),
        "{status:?}"
    );
    holder.abort();
}

#[tokio::test]
async fn the_service_keeps_serving_after_a_delivery_failure() {
    let url = format!("smtp://127.0.0.1:{}", free_port());
    let mut app = spawn_app(&[("SMTP_URL", url.as_str())]).await;
    for _ in 0..2 {
        let status = app
            .client
            .send_order_confirmation(request("ana@example.org", eur_order()))
            .await
            .unwrap_err();
        assert_delivery_failed(&status);
    }
    // Bad input is still judged before delivery is attempted.
    let status = app
        .client
        .send_order_confirmation(request("not-an-address", eur_order()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    app.server.stop().await;
}
