//! `boutique all`: the whole shop in one process.
//!
//! Each service binds its own ephemeral port on 127.0.0.1 and talks to the
//! others over real gRPC, exactly as separate containers would; only the
//! addresses are wired in memory. Settings that are not addresses (for example
//! `REDIS_ADDR`, `SMTP_URL`, `EXTRA_LATENCY`) come from the environment as usual.

use std::time::Instant;

use boutique_platform::{Env, shutdown};
use futures::future::try_join_all;
use tokio_util::sync::CancellationToken;

use crate::launch::{LaunchError, Service};

/// Starts every service, waits for SIGTERM/SIGINT, then drains them all.
pub(crate) async fn run_all(env: Env) -> Result<(), LaunchError> {
    let started = Instant::now();
    let stop = CancellationToken::new();
    // Every service listens on loopback only: `boutique all` is for one machine.
    let mut env = env.with("LISTEN_ADDR", "127.0.0.1").with("PORT", "0");
    let mut running = Vec::with_capacity(Service::ALL.len());
    for service in Service::ALL {
        let launched = service.launch(&env, stop.clone()).await?;
        // Later services (and clients) find this one through its upstream variable.
        env = env.with(service.addr_var(), launched.addr.to_string());
        tracing::info!(service = service.name(), addr = %launched.addr, "Started.");
        running.push(launched);
    }
    tracing::info!(services = running.len(), startup_ms = started.elapsed().as_millis(), "Boutique is ready.");
    for launched in &running {
        // The one line a person reads to find the shop's services.
        println!("{:<15} {}={}", launched.service.name(), launched.service.addr_var(), launched.addr);
    }

    let serving = try_join_all(running.into_iter().map(|launched| tokio::spawn(launched.serve)));
    tokio::pin!(serving);
    tokio::select! {
        // A service that stops on its own is a failure: take the rest down too.
        result = &mut serving => {
            stop.cancel();
            result.map_err(|e| LaunchError::Failed(e.into()))?.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
            return Err(LaunchError::Failed(anyhow::anyhow!("a service stopped unexpectedly")));
        }
        () = shutdown::signal() => stop.cancel(),
    }
    for result in serving.await.map_err(|e| LaunchError::Failed(e.into()))? {
        result?;
    }
    tracing::info!("Boutique stopped.");
    Ok(())
}
