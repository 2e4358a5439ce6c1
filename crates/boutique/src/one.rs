//! `boutique <service>`: one service on its upstream port until SIGTERM or
//! SIGINT, with metrics on `ADMIN_PORT` (9464) of the same host.

use boutique_platform::{Env, shutdown};
use tokio_util::sync::CancellationToken;

use crate::{
    error::LaunchError,
    launch::Launcher,
    observe::{AdminAddr, Observability, flush},
};

/// Runs `service` until the stop signal, then drains it and flushes its spans.
pub(crate) async fn run_one(service: &Launcher, env: Env) -> Result<(), LaunchError> {
    let stop = CancellationToken::new();
    let host = env.listen_addr(0)?.ip();
    let admin = AdminAddr::from_env(&env, host)?;
    let (hub, admin) = Observability::start(&env, admin, &stop).await?.into_parts();
    let admin = tokio::spawn(admin);
    let launched = service.launch(&env, stop.clone(), &hub, true).await?;
    tracing::info!(service = service.info.name, addr = %launched.addr, "Started.");
    let serve = tokio::spawn(launched.serve);
    shutdown::signal().await;
    stop.cancel();
    let served = serve.await.map_err(LaunchError::failed);
    flush(hub).await;
    let admin = admin.await.map_err(LaunchError::failed)?;
    served??;
    admin.map_err(LaunchError::failed)?;
    Ok(())
}
