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
//! - `PORT`: the port to listen on; default 7000 (the upstream manifest's, as
//!   upstream itself has no default).
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

#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod handlers;
pub mod rates;

use std::sync::Arc;

use boutique_platform::{
    App, ConfigError, Env, GrpcServer, Listen, ServerError, ServiceConfig, Telemetry,
};
use boutique_proto::{currency_service_server::CurrencyServiceServer, directory};

pub use rates::{ConvertError, Rates, RatesError};

/// The variable naming a replacement rate table.
pub const RATES_FILE_VAR: &str = "CURRENCY_RATES_FILE";

/// Currency settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen (`LISTEN_ADDR`, `PORT`, `REUSE_PORT`).
    pub listen: Listen,
    /// The validated rate table (`CURRENCY_RATES_FILE`, or the built-in one).
    pub rates: Arc<Rates>,
}

impl ServiceConfig for Config {
    const SERVICE: &'static directory::ServiceInfo = &directory::CURRENCY;

    /// Reads `PORT`, `LISTEN_ADDR` and `CURRENCY_RATES_FILE`, loading and
    /// validating the rate table now so a bad one stops startup.
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let listen = env.listen(Self::SERVICE.port)?;
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
            listen,
            rates: Arc::new(rates),
        })
    }

    async fn build(self, telemetry: Telemetry) -> Result<App, ServerError> {
        tracing::info!(
            currencies = self.rates.supported().len(),
            "Loaded currency rates."
        );
        let server = GrpcServer::bind(&telemetry, self.listen)
            .await?
            .add_service(CurrencyServiceServer::new(handlers::Currency::new(
                self.rates,
            )));
        Ok(server.into())
    }
}

fn load_rates_file(path: &str) -> Result<Rates, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(RATES_FILE_VAR, path, format!("cannot read it: {e}")))?;
    Rates::parse(&text).map_err(|e| ConfigError::new(RATES_FILE_VAR, path, e))
}
