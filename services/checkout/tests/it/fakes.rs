//! Fake dependencies that count, record what they received, or fail on cue.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use boutique_platform::testing::TestServer;
use boutique_proto::{
    ChargeRequest, ChargeResponse, CurrencyConversionRequest, Empty, GetQuoteRequest,
    GetQuoteResponse, GetSupportedCurrenciesResponse, Money, ShipOrderRequest, ShipOrderResponse,
    currency_service_client::CurrencyServiceClient,
    currency_service_server::{CurrencyService, CurrencyServiceServer},
    payment_service_client::PaymentServiceClient,
    payment_service_server::{PaymentService, PaymentServiceServer},
    shipping_service_server::{ShippingService, ShippingServiceServer},
};
use tokio::sync::Barrier;
use tonic::{Code, Request, Response, Status, metadata::MetadataMap, transport::Channel};

use boutique_platform::{GrpcServer, Telemetry};
use boutique_proto::boutique::payment::v1::{
    SettleChargeRequest, SettleChargeResponse,
    payment_ledger_client::PaymentLedgerClient,
    payment_ledger_server::{PaymentLedger, PaymentLedgerServer},
};

use crate::helpers::{loopback, spawn_fake};

/// The headers one call arrived with.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) method: &'static str,
    pub(crate) timeout: Option<Duration>,
    pub(crate) traceparent: Option<String>,
    pub(crate) tracestate: Option<String>,
    pub(crate) baggage: Option<String>,
}

/// Every call a fake received, in arrival order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Recorder(Arc<Mutex<Vec<Seen>>>);

impl Recorder {
    fn note(&self, method: &'static str, metadata: &MetadataMap) {
        let text = |key: &str| metadata.get(key).map(|v| v.to_str().unwrap().to_owned());
        self.0.lock().unwrap().push(Seen {
            method,
            timeout: text("grpc-timeout").map(|v| grpc_timeout(&v)),
            traceparent: text("traceparent"),
            tracestate: text("tracestate"),
            baggage: text("baggage"),
        });
    }

    pub(crate) fn calls(&self) -> Vec<Seen> {
        self.0.lock().unwrap().clone()
    }
}

/// Reads the `grpc-timeout` shapes tonic writes.
fn grpc_timeout(value: &str) -> Duration {
    let (digits, unit) = value.split_at(value.len() - 1);
    let n: u64 = digits.parse().unwrap();
    match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        other => panic!("unknown grpc-timeout unit {other}"),
    }
}

/// A payment service that approves every charge and counts them.
#[derive(Debug, Clone, Default)]
pub(crate) struct CountingPayment {
    charges: Arc<AtomicUsize>,
    amounts: Arc<Mutex<Vec<Money>>>,
    pub(crate) recorder: Recorder,
}

impl CountingPayment {
    pub(crate) fn charges(&self) -> usize {
        self.charges.load(Ordering::SeqCst)
    }

    pub(crate) fn amounts(&self) -> Vec<Money> {
        self.amounts.lock().unwrap().clone()
    }

    pub(crate) async fn spawn(&self) -> TestServer {
        spawn_fake("fake-payment", PaymentServiceServer::new(self.clone())).await
    }
}

#[tonic::async_trait]
impl PaymentService for CountingPayment {
    async fn charge(
        &self,
        request: Request<ChargeRequest>,
    ) -> Result<Response<ChargeResponse>, Status> {
        self.recorder.note("Charge", request.metadata());
        let request = request.into_inner();
        self.charges.fetch_add(1, Ordering::SeqCst);
        self.amounts.lock().unwrap().push(request.amount.unwrap());
        Ok(Response::new(ChargeResponse {
            transaction_id: uuid::Uuid::new_v4().to_string(),
        }))
    }
}

/// A shipping service that quotes the flat rate and either ships or, when
/// `ship_fails`, answers ShipOrder with UNAVAILABLE (an outage after the charge).
#[derive(Debug, Clone, Default)]
pub(crate) struct FakeShipping {
    pub(crate) ship_fails: bool,
    pub(crate) recorder: Recorder,
}

impl FakeShipping {
    pub(crate) async fn spawn(&self) -> TestServer {
        spawn_fake("fake-shipping", ShippingServiceServer::new(self.clone())).await
    }
}

#[tonic::async_trait]
impl ShippingService for FakeShipping {
    async fn get_quote(
        &self,
        request: Request<GetQuoteRequest>,
    ) -> Result<Response<GetQuoteResponse>, Status> {
        self.recorder.note("GetQuote", request.metadata());
        Ok(Response::new(GetQuoteResponse {
            cost_usd: Some(Money {
                currency_code: "USD".into(),
                units: 8,
                nanos: 990_000_000,
            }),
        }))
    }

    async fn ship_order(
        &self,
        request: Request<ShipOrderRequest>,
    ) -> Result<Response<ShipOrderResponse>, Status> {
        self.recorder.note("ShipOrder", request.metadata());
        if self.ship_fails {
            return Err(Status::unavailable("the carrier is not answering"));
        }
        Ok(Response::new(ShipOrderResponse {
            tracking_id: "AB-12345-123456789".into(),
        }))
    }
}

/// The real currency service behind a gate: the first `gated` calls to
/// GetSupportedCurrencies wait until all of them have arrived. Checkout asks
/// for the list before it takes the idempotency slot, so this holds
/// concurrent requests together until each of them is in flight.
#[derive(Debug, Clone)]
pub(crate) struct GatedCurrency {
    real: CurrencyServiceClient<Channel>,
    barrier: Arc<Barrier>,
    gated: usize,
    arrived: Arc<AtomicUsize>,
}

impl GatedCurrency {
    pub(crate) async fn spawn(real_url: String, gated: usize) -> TestServer {
        let real = CurrencyServiceClient::new(
            Channel::from_shared(real_url)
                .unwrap()
                .connect()
                .await
                .unwrap(),
        );
        let fake = Self {
            real,
            barrier: Arc::new(Barrier::new(gated)),
            gated,
            arrived: Arc::default(),
        };
        spawn_fake("gated-currency", CurrencyServiceServer::new(fake)).await
    }
}

#[tonic::async_trait]
impl CurrencyService for GatedCurrency {
    async fn get_supported_currencies(
        &self,
        request: Request<Empty>,
    ) -> Result<Response<GetSupportedCurrenciesResponse>, Status> {
        if self.arrived.fetch_add(1, Ordering::SeqCst) < self.gated {
            self.barrier.wait().await;
        }
        self.real
            .clone()
            .get_supported_currencies(request.into_inner())
            .await
    }

    async fn convert(
        &self,
        request: Request<CurrencyConversionRequest>,
    ) -> Result<Response<Money>, Status> {
        self.real.clone().convert(request.into_inner()).await
    }
}

/// A payment service in front of the real one that loses answers: each charge
/// goes through to the real service (so the card is charged), but the first
/// `lose` answers come back as `lost_as` instead, as when a connection drops
/// after the request went out.
#[derive(Debug, Clone)]
pub(crate) struct ForgetfulPayment {
    real: PaymentServiceClient<Channel>,
    lose: usize,
    lost_as: Code,
    seen: Arc<Mutex<Vec<Relayed>>>,
}

/// A charge that reached the real payment service: its `idempotency-key` and
/// the transaction id the real service answered.
pub(crate) type Relayed = (Option<String>, String);

impl ForgetfulPayment {
    pub(crate) fn new(real: Channel, lose: usize, lost_as: Code) -> Self {
        Self {
            real: PaymentServiceClient::new(real),
            lose,
            lost_as,
            seen: Arc::default(),
        }
    }

    /// Each charge that reached the real service: its `idempotency-key` and
    /// the transaction id the real service answered.
    pub(crate) fn seen(&self) -> Vec<Relayed> {
        self.seen.lock().unwrap().clone()
    }

    pub(crate) async fn spawn(&self) -> TestServer {
        spawn_fake("forgetful-payment", PaymentServiceServer::new(self.clone())).await
    }

    /// The same, also serving the real service's ledger (as our payment
    /// service does), so a reconciler can settle what it lost.
    pub(crate) async fn spawn_with_ledger(&self, real: Channel) -> TestServer {
        let listen = loopback().listen_addr(0).unwrap();
        let server = GrpcServer::bind(&Telemetry::detached("forgetful-payment"), listen)
            .await
            .unwrap()
            .add_service(PaymentServiceServer::new(self.clone()))
            .add_service(PaymentLedgerServer::new(LedgerRelay(
                PaymentLedgerClient::new(real),
            )));
        TestServer::spawn(server.local_addr(), |stop| server.run_until(stop))
    }
}

/// Passes SettleCharge on to the real payment service.
#[derive(Debug, Clone)]
struct LedgerRelay(PaymentLedgerClient<Channel>);

#[tonic::async_trait]
impl PaymentLedger for LedgerRelay {
    async fn settle_charge(
        &self,
        request: Request<SettleChargeRequest>,
    ) -> Result<Response<SettleChargeResponse>, Status> {
        self.0.clone().settle_charge(request.into_inner()).await
    }
}

#[tonic::async_trait]
impl PaymentService for ForgetfulPayment {
    async fn charge(
        &self,
        request: Request<ChargeRequest>,
    ) -> Result<Response<ChargeResponse>, Status> {
        let key = request
            .metadata()
            .get("idempotency-key")
            .map(|v| v.to_str().unwrap().to_owned());
        let mut forwarded = Request::new(request.into_inner());
        if let Some(key) = &key {
            forwarded
                .metadata_mut()
                .insert("idempotency-key", key.parse().unwrap());
        }
        let reply = self.real.clone().charge(forwarded).await?.into_inner();
        let answered = {
            let mut seen = self.seen.lock().unwrap();
            seen.push((key, reply.transaction_id.clone()));
            seen.len()
        };
        if answered <= self.lose {
            return Err(Status::new(self.lost_as, "the answer was lost"));
        }
        Ok(Response::new(reply))
    }
}

/// A payment service that holds every charge until the test lets it go, and
/// says when one has arrived: an order caught in the middle.
#[derive(Debug, Clone)]
pub(crate) struct HeldPayment {
    charges: Arc<AtomicUsize>,
    arrived: Arc<tokio::sync::Notify>,
    release: Arc<tokio::sync::Semaphore>,
}

impl Default for HeldPayment {
    fn default() -> Self {
        Self {
            charges: Arc::default(),
            arrived: Arc::default(),
            release: Arc::new(tokio::sync::Semaphore::new(0)),
        }
    }
}

impl HeldPayment {
    pub(crate) fn charges(&self) -> usize {
        self.charges.load(Ordering::SeqCst)
    }

    /// Waits until a charge is being held.
    pub(crate) async fn arrived(&self) {
        self.arrived.notified().await;
    }

    /// Lets every held and future charge through.
    pub(crate) fn release(&self) {
        self.release
            .add_permits(tokio::sync::Semaphore::MAX_PERMITS / 2);
    }

    pub(crate) async fn spawn(&self) -> TestServer {
        spawn_fake("held-payment", PaymentServiceServer::new(self.clone())).await
    }
}

#[tonic::async_trait]
impl PaymentService for HeldPayment {
    async fn charge(
        &self,
        _request: Request<ChargeRequest>,
    ) -> Result<Response<ChargeResponse>, Status> {
        self.charges.fetch_add(1, Ordering::SeqCst);
        // `notify_one` keeps a permit, so a waiter that comes later still wakes.
        self.arrived.notify_one();
        let _permit = self.release.acquire().await.unwrap();
        Ok(Response::new(ChargeResponse {
            transaction_id: uuid::Uuid::new_v4().to_string(),
        }))
    }
}
