//! The currency service: supported codes and conversion (`hipstershop.CurrencyService`).
//!
//! The codes and rates come from a small CSV of euro reference rates (units of
//! each currency per 1 EUR). By default that is the built-in table
//! ([`rates::BUILTIN_CSV`]): upstream's 33 codes in upstream order, EUR first.
//! `GetSupportedCurrencies` answers with the table's codes in file order.
//!
//! # Conversion rule
//!
//! Money is never a float. Converting `amount` from A to B computes
//! `amount × rate(B) / rate(A)` exactly, in integers, on the amount's total
//! nanos (i.e. through the euro without an intermediate euro amount), and
//! rounds **once** to the nearest nano, halves away from zero. So a negative
//! amount converts to exactly minus its positive twin, and converting a
//! currency to itself gives the amount back unchanged.
//!
//! Upstream divided units and nanos separately in doubles, rounded the euro
//! nanos, multiplied, and floored the result. Our answers therefore differ from
//! upstream's by less than `rate(B)/2 + 1` nanos: upstream's euro rounding (at
//! most half a euro-nano) is scaled by `rate(B)`, and its final floor loses up
//! to one more nano. For JPY that is up to 64 nanos, far below anything shown.
//!
//! # Errors (all `INVALID_ARGUMENT`, never a silent zero)
//!
//! - `from` missing, or malformed (nanos outside ±999 999 999, units and nanos
//!   of different signs, a code that is not three capital letters).
//! - A `from.currency_code` or `to_code` not in the table; the message names it.
//! - A result too large for `Money` ("amount out of range").
//!
//! # Environment
//!
//! - `PORT`: the port to listen on; default [`DEFAULT_PORT`] (7000, the
//!   upstream manifest's, as upstream itself has no default).
//! - `LISTEN_ADDR`: the address to bind; default all interfaces.
//! - `CURRENCY_RATES_FILE`: optional path to a CSV in the built-in format
//!   (`#` comments, header `code,per_eur`, one `CODE,rate` line per currency),
//!   e.g. fresher ECB rates. It replaces the built-in table and is validated at
//!   startup: codes of three capital letters, each once, positive plain-decimal
//!   rates with at most 18 decimal places, EUR present with rate 1. A file that
//!   cannot be read or fails validation is a [`ConfigError`] naming the
//!   variable, so the binary exits with code 64.
//!
//! The pure table and rule live in [`rates`], usable without gRPC.

mod handlers;
pub mod rates;

use std::{future::Future, net::SocketAddr, sync::Arc};

use boutique_platform::{ConfigError, Env, GrpcServer, Telemetry, grpc::ServerError};
use boutique_proto::currency_service_server::CurrencyServiceServer;

pub use rates::{ConvertError, Rates, RatesError};

/// The upstream manifest's port (upstream code has no default).
pub const DEFAULT_PORT: u16 = 7000;

/// The variable naming a replacement rate table.
pub const RATES_FILE_VAR: &str = "CURRENCY_RATES_FILE";

/// Currency settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen (`LISTEN_ADDR`, `PORT`).
    pub listen: SocketAddr,
    /// This service's logs, metrics and traces: [`Telemetry::detached`] until
    /// the binary hands over the process's.
    pub telemetry: Telemetry,
    /// The validated rate table (`CURRENCY_RATES_FILE`, or the built-in one).
    pub rates: Arc<Rates>,
}

impl Config {
    /// Reads `PORT`, `LISTEN_ADDR` and `CURRENCY_RATES_FILE`, loading and
    /// validating the rate table now so a bad one stops startup.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let listen = env.listen_addr(DEFAULT_PORT)?;
        let rates = match env.get(RATES_FILE_VAR) {
            Some(path) => load_rates_file(path)?,
            // The built-in table is checked by the crate's tests, so this
            // error is not expected; it is still reported, not a panic.
            None => Rates::builtin().map_err(|e| {
                ConfigError::new(
                    RATES_FILE_VAR,
                    "",
                    format!("is unset and the built-in rates are invalid: {e}"),
                )
            })?,
        };
        Ok(Self {
            telemetry: Telemetry::detached("currency"),
            listen,
            rates: Arc::new(rates),
        })
    }
}

fn load_rates_file(path: &str) -> Result<Rates, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(RATES_FILE_VAR, path, format!("cannot read it: {e}")))?;
    Rates::parse(&text).map_err(|e| ConfigError::new(RATES_FILE_VAR, path, e))
}

/// The running currency service.
#[derive(Debug)]
pub struct App {
    server: GrpcServer,
}

impl App {
    /// Binds the listener; the service answers once [`App::run_until`] runs.
    pub async fn build(config: Config) -> Result<Self, ServerError> {
        tracing::info!(
            currencies = config.rates.supported().len(),
            "Loaded currency rates."
        );
        let server = GrpcServer::bind(&config.telemetry, config.listen)
            .await?
            .add_service(CurrencyServiceServer::new(handlers::Currency::new(
                config.rates,
            )));
        Ok(Self { server })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Serves until `shutdown` resolves, then drains.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServerError> {
        self.server.run_until(shutdown).await
    }
}
