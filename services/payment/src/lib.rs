//! The payment service: mock card charges (`hipstershop.PaymentService`).
//!
//! No money moves. A charge is checked like upstream (Luhn, a length the
//! brand issues, brand by prefix, not expired) and answered with a random
//! UUIDv4 transaction id. Unlike upstream:
//!
//! - Visa Electron numbers are Visa and are accepted (upstream rejected them,
//!   failing about 0.5% of its own load generator's checkouts); Mastercard's
//!   2-series is recognised.
//! - Refusals use standard status codes, never the non-standard 400:
//!   `INVALID_ARGUMENT` for a malformed request (bad number, expiry month or
//!   year, CVV, amount that is missing, malformed or not positive, currency not
//!   one of the shop's 33), `FAILED_PRECONDITION` for a declined card (brand
//!   other than Visa or Mastercard, expired).
//! - Expiry is judged in UTC; a card is good through its expiry month.
//! - The card number is never logged or echoed: logs and messages carry at
//!   most the brand and the last four digits.
//! - A charge resent with the same `idempotency-key` metadata (a caller that
//!   did not hear the answer) gets the first charge's transaction id and
//!   charges nothing again; the same key with a different charge is
//!   `FAILED_PRECONDITION`. A caller that never heard back settles the key
//!   with `boutique.payment.v1.PaymentLedger/SettleCharge`: the charge made
//!   under it, or a void that refuses any later charge with it. See [`ledger`].
//!
//! # Environment
//!
//! | Variable | Default | Meaning |
//! |---|---|---|
//! | `PORT` | `50051` | Listen port (upstream has no default; 50051 is its manifest's). |
//! | `LISTEN_ADDR` | `0.0.0.0` | Listen host. |
//! | `EXTRA_LATENCY` | `0` | A Go duration waited before every charge, for fault-injection demos and crash tests (a slow payment). |
//! | `FLAGD_*` | no flags | Failure flags (`boutique_flags::config`): `paymentFailure` declines that fraction of charges (`FAILED_PRECONDITION`, nothing charged). |
//! | `DATABASE_URL` | unset: memory | Where resent charges are looked up (`postgres://…` or `sqlite://PATH`), shared by every replica; see `boutique_store` for the pool settings. |
//!
//! Logging is configured by the platform (`LOG_LEVEL`/`RUST_LOG`, `LOG_FORMAT`).

pub mod card;
pub mod charge;
mod clock;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod handlers;
pub mod ledger;
mod metrics;

use std::sync::Arc;

use boutique_flags::{Flags, FlagsConfig};
use boutique_platform::{
    App, ConfigError, Env, GrpcServer, Listen, ServerError, ServiceConfig, Telemetry,
};
use boutique_proto::{
    boutique::payment::v1::payment_ledger_server::PaymentLedgerServer, directory,
    payment_service_server::PaymentServiceServer,
};
use boutique_store::{ChargeLedger, DATABASE_URL_VAR, Database, StoreConfig};

pub use card::{Brand, CardNumber, NumberError};
pub use charge::{Authorized, ChargeError, authorize};
pub use clock::{Clock, FixedClock, SystemClock};
pub use ledger::{Ledger, MemoryLedger, Settled, SqlLedger};

/// Payment settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen (`LISTEN_ADDR`, `PORT`, `REUSE_PORT`).
    pub listen: Listen,
    /// Where "now" comes from for expiry checks; the system clock outside tests.
    pub clock: Arc<dyn Clock>,
    /// Where charges are remembered by idempotency key: the database when
    /// `DATABASE_URL` is set, else memory.
    pub database: Option<StoreConfig>,
    /// Waited before every charge (`EXTRA_LATENCY`).
    pub extra_latency: std::time::Duration,
    /// Where the failure flags come from (`FLAGD_*`).
    pub flags: FlagsConfig,
}

impl ServiceConfig for Config {
    const SERVICE: &'static directory::ServiceInfo = &directory::PAYMENT;

    /// Reads `PORT` and `LISTEN_ADDR`; the clock is the system clock.
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            listen: env.listen(Self::SERVICE.port)?,
            clock: Arc::new(SystemClock),
            database: match env.get(DATABASE_URL_VAR) {
                Some(_) => Some(StoreConfig::from_env(env)?),
                None => None,
            },
            extra_latency: env
                .parse_with(
                    "EXTRA_LATENCY",
                    boutique_platform::config::parse_go_duration,
                )?
                .unwrap_or_default(),
            flags: FlagsConfig::from_env(env)?,
        })
    }

    async fn build(self, telemetry: Telemetry) -> Result<App, ServerError> {
        let ledger: Arc<dyn Ledger> = match &self.database {
            Some(database) => Arc::new(SqlLedger::new(open_ledger(database).await?)),
            None => Arc::new(MemoryLedger::new()),
        };
        let handler = handlers::Payment {
            clock: self.clock,
            metrics: metrics::PaymentMetrics::register(&telemetry),
            ledger,
            extra_latency: self.extra_latency,
            flags: Flags::new(&self.flags, &telemetry),
        };
        let server = GrpcServer::bind(&telemetry, self.listen)
            .await?
            .add_service(PaymentLedgerServer::new(handler.clone()))
            .add_service(PaymentServiceServer::new(handler));
        Ok(server.into())
    }
}

impl Config {
    /// Replaces the clock, so tests can pin the current month.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }
}

/// Connects to the ledger's database and applies the migrations.
async fn open_ledger(config: &StoreConfig) -> Result<ChargeLedger, ServerError> {
    let setup = |source: boutique_store::StoreError| ServerError::Setup {
        what: "the charge ledger's database",
        source: source.into(),
    };
    let database = Database::connect(config).await.map_err(setup)?;
    database.migrate().await.map_err(setup)?;
    tracing::info!(database = %config.location, "Charges are kept in the database.");
    Ok(ChargeLedger::new(&database))
}
