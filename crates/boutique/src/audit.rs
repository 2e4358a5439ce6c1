//! `boutique audit`: the ledger check (see `boutique_store::audit`) on the
//! shop's database, printed, with the exit code saying whether it passed.

use std::{io::Write, process::ExitCode, time::Duration};

use boutique_platform::{Env, config::parse_go_duration};
use boutique_store::{Database, StoreConfig, audit::audit};

use crate::error::LaunchError;

/// Options of `boutique audit`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Orders unchanged in an intermediate state for this long fail the audit
    /// (a Go duration); `0s` counts every unfinished order.
    #[arg(long, default_value = "60s", value_parser = parse_go_duration)]
    unsettled_after: Duration,
}

/// Audits the database the environment names; exit 0 when charges and
/// orders match one to one and nothing is left unsettled, 1 otherwise.
pub(crate) async fn run(args: Args, env: &Env) -> Result<ExitCode, LaunchError> {
    let config = StoreConfig::from_env(env)?;
    let database = Database::connect(&config)
        .await
        .map_err(LaunchError::failed)?;
    database.migrate().await.map_err(LaunchError::failed)?;
    let after_ms = i64::try_from(args.unsettled_after.as_millis()).unwrap_or(i64::MAX);
    let report = audit(&database, after_ms)
        .await
        .map_err(LaunchError::failed)?;
    database.close().await;
    let passed = report.balanced() && report.settled();
    let mut text = format!(
        "database: {}\ncharges: {}  charged orders: {}\n",
        config.location, report.charges, report.charged_orders
    );
    for (key, transaction) in &report.charges_without_order {
        text += &format!("charge without an order: key {key}, transaction {transaction}\n");
    }
    for (order, transaction) in &report.orders_without_charge {
        text += &format!("order without its charge: order {order}, transaction {transaction}\n");
    }
    for (order, recorded, charged) in &report.mismatched {
        text += &format!("order {order} records transaction {recorded}, the ledger {charged}\n");
    }
    for (state, n) in report.unsettled.iter().filter(|(_, n)| *n > 0) {
        text += &format!("unsettled: {n} order(s) {state}\n");
    }
    text += if passed {
        "audit passed\n"
    } else {
        "audit FAILED\n"
    };
    // The report is the command's output (stdout); logs go elsewhere.
    std::io::stdout()
        .write_all(text.as_bytes())
        .map_err(LaunchError::failed)?;
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
