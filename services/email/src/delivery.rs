//! Getting a rendered confirmation to the customer: over SMTP when a relay is
//! configured, otherwise only a log line (upstream's behaviour, so the shop
//! runs without any mail setup).

use std::time::Duration;

use lettre::{
    Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{
        Body, Mailbox, MultiPart, SinglePart,
        header::{ContentTransferEncoding, ContentType},
    },
};

use boutique_platform::RpcError;

use crate::render::Confirmation;

/// Where confirmations go.
#[derive(Debug, Clone)]
pub(crate) enum Delivery {
    /// Sent through an SMTP relay (boxed: the transport is large and the
    /// enum is cloned into the gRPC service).
    Smtp(Box<Relay>),
    /// Not sent; logged.
    LogOnly,
}

/// An SMTP relay and how to use it.
#[derive(Debug, Clone)]
pub(crate) struct Relay {
    pub(crate) transport: AsyncSmtpTransport<Tokio1Executor>,
    pub(crate) from: Mailbox,
    /// The longest one delivery may take, connection included.
    pub(crate) timeout: Duration,
}

impl Delivery {
    /// Delivers `confirmation` for `order_id` to `to`.
    pub(crate) async fn deliver(
        &self,
        to: &Address,
        order_id: &str,
        confirmation: &Confirmation,
    ) -> Result<(), RpcError> {
        match self {
            Self::LogOnly => {
                // The domain is enough to follow a problem; the full address is
                // personal data and stays out of the logs.
                tracing::info!(
                    order_id,
                    recipient_domain = to.domain(),
                    "SMTP_URL is not set: the order confirmation would have been sent."
                );
                Ok(())
            }
            Self::Smtp(relay) => {
                let Relay {
                    transport,
                    from,
                    timeout,
                } = relay.as_ref();
                let message = build_message(from, to, confirmation)?;
                // lettre's own timeout covers only the TCP connect; a relay that
                // accepts and then stalls would hold the call forever without this.
                match tokio::time::timeout(*timeout, transport.send(message)).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => {
                        return Err(RpcError::Unavailable(format!("email delivery failed: {e}")));
                    }
                    Err(_) => {
                        return Err(RpcError::Unavailable(format!(
                            "email delivery failed: the SMTP server did not finish within {timeout:?}"
                        )));
                    }
                }
                tracing::info!(
                    order_id,
                    recipient_domain = to.domain(),
                    "Sent the order confirmation."
                );
                Ok(())
            }
        }
    }
}

/// One `multipart/alternative` message: clients that cannot show HTML show the
/// text part. Both parts are quoted-printable, which keeps every line short and
/// 7-bit clean (prices carry `€`, `£`, ...) whatever the relay supports.
pub(crate) fn build_message(
    from: &Mailbox,
    to: &Address,
    confirmation: &Confirmation,
) -> Result<Message, RpcError> {
    let part = |content_type: ContentType, body: &str| {
        let body =
            Body::new_with_encoding(body.to_owned(), ContentTransferEncoding::QuotedPrintable)
                .map_err(|_| {
                    RpcError::internal(std::io::Error::other("cannot encode the email body"))
                })?;
        Ok::<_, RpcError>(SinglePart::builder().header(content_type).body(body))
    };
    Message::builder()
        .from(from.clone())
        .to(Mailbox::new(None, to.clone()))
        .subject(&confirmation.subject)
        .message_id(None)
        .multipart(
            MultiPart::alternative()
                .singlepart(part(ContentType::TEXT_PLAIN, &confirmation.text)?)
                .singlepart(part(ContentType::TEXT_HTML, &confirmation.html)?),
        )
        .map_err(RpcError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_quoted_printable_alternative_message() {
        let from: Mailbox = "Shop <shop@example.com>".parse().unwrap();
        let to: Address = "jo@example.org".parse().unwrap();
        let confirmation = Confirmation {
            subject: "Your Boutique order 42".into(),
            text: "Total: €1.00".into(),
            html: "<p>Total: €1.00</p>".into(),
        };
        let raw = String::from_utf8(
            build_message(&from, &to, &confirmation)
                .unwrap()
                .formatted(),
        )
        .unwrap();
        assert!(raw.contains("Subject: Your Boutique order 42\r\n"), "{raw}");
        assert!(raw.contains("To: jo@example.org\r\n"), "{raw}");
        assert!(
            raw.contains("Content-Type: multipart/alternative;"),
            "{raw}"
        );
        assert!(
            raw.contains("Content-Type: text/plain; charset=utf-8"),
            "{raw}"
        );
        assert!(
            raw.contains("Content-Type: text/html; charset=utf-8"),
            "{raw}"
        );
        assert_eq!(
            raw.matches("Content-Transfer-Encoding: quoted-printable")
                .count(),
            2,
            "{raw}"
        );
        // `€` is E2 82 AC in UTF-8.
        assert!(raw.contains("Total: =E2=82=AC1.00"), "{raw}");
        assert!(raw.is_ascii(), "{raw}");
    }
}
