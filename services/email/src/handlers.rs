//! The gRPC handler: validate, render, deliver.

use boutique_flags::{Flags, leak::Leak, names::EMAIL_MEMORY_LEAK};
use boutique_platform::{
    RpcError,
    telemetry::trace::{KeyValue, annotate, attr},
};
use boutique_proto::{Empty, SendOrderConfirmationRequest, email_service_server::EmailService};
use lettre::Address;
use tonic::{Request, Response, Status};

use crate::{
    delivery::Delivery, metrics::EmailMetrics, order::OrderSummary, render::render_confirmation,
};

#[derive(Debug, Clone)]
pub(crate) struct Email {
    pub(crate) delivery: Delivery,
    pub(crate) metrics: EmailMetrics,
    pub(crate) flags: Flags,
    /// What `emailMemoryLeak` holds on to.
    pub(crate) leak: Leak,
}

#[tonic::async_trait]
impl EmailService for Email {
    async fn send_order_confirmation(
        &self,
        request: Request<SendOrderConfirmationRequest>,
    ) -> Result<Response<Empty>, Status> {
        let request = request.into_inner();
        let to = recipient(&request.email)?;
        let order = request
            .order
            .as_ref()
            .ok_or_else(|| RpcError::invalid("order is required"))?;
        let order = OrderSummary::try_from(order).map_err(RpcError::invalid)?;
        annotate([KeyValue::new(attr::ORDER_ID, order.order_id.clone())]);
        let confirmation = render_confirmation(&order).map_err(RpcError::internal)?;
        if self.flags.is_configured() {
            // As the OpenTelemetry demo's: each message kept `multiplier` times over.
            let multiplier = self.flags.number(EMAIL_MEMORY_LEAK).await;
            if multiplier >= 1.0 {
                let size = confirmation.text.len() + confirmation.html.len();
                self.leak.grow((size as f64 * multiplier.min(1e6)) as usize);
            } else {
                self.leak.release();
            }
        }
        let delivered = self
            .delivery
            .deliver(&to, &order.order_id, &confirmation)
            .await;
        // Counted only once the request was valid: a bad address is the
        // caller's mistake, not a failed email.
        match &delivered {
            Ok(()) => self.metrics.email_sent(),
            Err(_) => self.metrics.email_failed(),
        }
        delivered?;
        Ok(Response::new(Empty {}))
    }
}

/// Parses the recipient with the same rules the SMTP client applies, so an
/// address that passes here cannot be refused later for its syntax.
fn recipient(email: &str) -> Result<Address, RpcError> {
    if email.trim().is_empty() {
        return Err(RpcError::invalid("email is required"));
    }
    email
        .parse::<Address>()
        .map_err(|e| RpcError::invalid(format!("email {email:?} is not a valid address: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_plain_addresses() {
        assert_eq!(
            recipient("someone@example.com").unwrap().domain(),
            "example.com"
        );
        for bad in [
            "",
            "  ",
            "someone",
            "someone@",
            "@example.com",
            "Jo <jo@example.com>",
            "jo@example.com\r\nBcc: x@y.z",
        ] {
            assert!(
                matches!(recipient(bad), Err(RpcError::InvalidArgument(_))),
                "{bad:?}"
            );
        }
    }
}
