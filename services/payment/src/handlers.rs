//! The gRPC handler: authorise, mint a transaction id (or replay the one a
//! resent charge got, see [`crate::ledger`]), log what may be logged.
//!
//! The request is never logged as a whole: the generated types derive `Debug`,
//! which would print the card number. Only the amount, brand and last four
//! digits reach the log.

use std::sync::Arc;

use boutique_flags::{Flags, names::PAYMENT_FAILURE};
use boutique_platform::{
    RpcError,
    telemetry::trace::{KeyValue, annotate, attr},
};
use boutique_proto::{
    ChargeRequest, ChargeResponse,
    boutique::payment::v1::{
        SettleChargeRequest, SettleChargeResponse, payment_ledger_server::PaymentLedger,
    },
    payment_service_server::PaymentService,
    reasons,
};
use tonic::{Request, Response, Status, metadata::MetadataMap};
use uuid::Uuid;

use crate::{
    charge::{ChargeError, authorize},
    clock::Clock,
    ledger::{Charge, IDEMPOTENCY_KEY, Ledger, Recorded, Settled, check_key},
    metrics::{DeclineReason, PaymentMetrics},
};

#[derive(Debug, Clone)]
pub(crate) struct Payment {
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) metrics: PaymentMetrics,
    pub(crate) ledger: Arc<dyn Ledger>,
    /// Waited before every charge (`EXTRA_LATENCY`).
    pub(crate) extra_latency: std::time::Duration,
    pub(crate) flags: Flags,
}

#[tonic::async_trait]
impl PaymentService for Payment {
    async fn charge(
        &self,
        request: Request<ChargeRequest>,
    ) -> Result<Response<ChargeResponse>, Status> {
        let key = idempotency_key(request.metadata())?;
        let request = request.into_inner();
        if !self.extra_latency.is_zero() {
            tokio::time::sleep(self.extra_latency).await;
        }
        if self.flags.fraction(PAYMENT_FAILURE).await {
            // A decline, as in the OpenTelemetry demo: checkout ends the
            // order as declined and tells the shopper; nothing is charged.
            return Err(Status::failed_precondition(
                "payment request failed: invalid token (flag paymentFailure)",
            ));
        }
        let authorized = authorize(&request, self.clock.now()).map_err(|error| {
            log_refusal(&error);
            self.metrics.payment_declined(decline_reason(&error));
            Status::from(RpcError::from(error))
        })?;
        let transaction_id = Uuid::new_v4().to_string();
        if let Some(key) = key {
            let charge = Charge {
                transaction_id: transaction_id.clone(),
                amount: authorized.amount.clone(),
                card_last_four: authorized.card.last_four().to_owned(),
            };
            match self.ledger.record(&key, charge).await {
                Ok(Recorded::New) => {}
                Ok(Recorded::Replay(first)) => {
                    tracing::info!(
                        transaction_id = %first.transaction_id,
                        amount = %first.amount,
                        "Replayed a resent charge; the card was not charged again."
                    );
                    return Ok(Response::new(ChargeResponse {
                        transaction_id: first.transaction_id,
                    }));
                }
                Ok(Recorded::Conflict) => {
                    return Err(RpcError::FailedPrecondition(format!(
                        "{IDEMPOTENCY_KEY} was already used for a different charge"
                    ))
                    .into());
                }
                Ok(Recorded::Voided) => {
                    tracing::info!("Refused a charge whose key was settled as never charged.");
                    return Err(RpcError::FailedPrecondition(
                        "this charge was cancelled: its order was closed without payment"
                            .to_owned(),
                    )
                    .with_reason(reasons::CHARGE_VOIDED, [])
                    .into());
                }
                Err(error) => return Err(RpcError::internal(error).into()),
            }
        }
        // The amount and the transaction, never anything from the card.
        annotate([
            KeyValue::new(attr::TRANSACTION_ID, transaction_id.clone()),
            KeyValue::new(attr::AMOUNT, authorized.amount.approximate()),
            KeyValue::new(attr::CURRENCY, authorized.amount.currency_code().to_owned()),
        ]);
        tracing::info!(
            transaction_id = %transaction_id,
            amount = %authorized.amount,
            brand = %authorized.card.brand(),
            last_four = authorized.card.last_four(),
            "Charged card."
        );
        Ok(Response::new(ChargeResponse { transaction_id }))
    }
}

#[tonic::async_trait]
impl PaymentLedger for Payment {
    async fn settle_charge(
        &self,
        request: Request<SettleChargeRequest>,
    ) -> Result<Response<SettleChargeResponse>, Status> {
        let key = request.into_inner().idempotency_key;
        check_key(&key).map_err(RpcError::InvalidArgument)?;
        let settled = self.ledger.settle(&key).await.map_err(RpcError::internal)?;
        Ok(Response::new(match settled {
            Settled::Charged(charge) => {
                tracing::info!(transaction_id = %charge.transaction_id, "Settled a charge: it was made.");
                SettleChargeResponse {
                    transaction_id: charge.transaction_id,
                    voided: false,
                }
            }
            Settled::Voided => {
                tracing::info!("Settled a charge: none was made; the key is void.");
                SettleChargeResponse {
                    transaction_id: String::new(),
                    voided: true,
                }
            }
        }))
    }
}

/// The caller's idempotency key, if it sent one; a malformed one is refused.
fn idempotency_key(metadata: &MetadataMap) -> Result<Option<String>, Status> {
    let Some(value) = metadata.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .map_err(|_| RpcError::InvalidArgument(format!("{IDEMPOTENCY_KEY} is not text")))?;
    check_key(key).map_err(RpcError::InvalidArgument)?;
    Ok(Some(key.to_owned()))
}

/// The metric label of a refusal.
fn decline_reason(error: &ChargeError) -> DeclineReason {
    match error {
        ChargeError::InvalidNumber(_) => DeclineReason::InvalidCard,
        ChargeError::UnacceptedBrand(_) => DeclineReason::CardTypeNotAccepted,
        ChargeError::Expired { .. } => DeclineReason::CardExpired,
        _ => DeclineReason::InvalidRequest,
    }
}

/// Logs a refusal with its reason. The messages hold at most the brand and
/// the last four digits; for an invalid number the reason says what was wrong
/// without repeating it.
fn log_refusal(error: &ChargeError) {
    match error {
        ChargeError::InvalidNumber(reason) => {
            tracing::info!(%reason, "Refused charge: invalid card number.");
        }
        _ => tracing::info!(%error, "Refused charge."),
    }
}
