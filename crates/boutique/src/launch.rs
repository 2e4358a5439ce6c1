//! The services this binary runs: each entry of the directory
//! ([`boutique_proto::directory`]) paired with the crate that implements it,
//! and how one is started. The subcommands (`boutique cart`) are derived
//! from the same list.

use std::net::SocketAddr;

use boutique_platform::{Env, ServiceConfig, Telemetry, telemetry::TelemetryHub};
use boutique_proto::directory::{self, ServiceInfo};
use clap::{ArgMatches, Command, error::ErrorKind};
use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::error::LaunchError;

/// Every service, in the directory's order (each after the services it
/// calls). Adding a service: its directory entry, its crate, and a line here.
pub(crate) static SERVICES: [Launcher; 14] = [
    Launcher::of::<boutique_catalog::Config>(),
    Launcher::of::<boutique_currency::Config>(),
    Launcher::of::<boutique_payment::Config>(),
    Launcher::of::<boutique_shipping::Config>(),
    Launcher::of::<boutique_email::Config>(),
    Launcher::of::<boutique_cart::Config>(),
    Launcher::of::<boutique_ad::Config>(),
    Launcher::of::<boutique_recommendation::Config>(),
    Launcher::of::<boutique_orders::Config>(),
    Launcher::of::<boutique_accounts::Config>(),
    Launcher::of::<boutique_checkout::Config>(),
    Launcher::of::<boutique_dispatch::Config>(),
    Launcher::of::<boutique_ratings::Config>(),
    Launcher::of::<boutique_frontend::Config>(),
];

type Launch = fn(&Env, Telemetry, CancellationToken) -> BoxFuture<'static, LaunchResult>;
type LaunchResult = Result<Launched, LaunchError>;

/// A service and how to start it.
#[derive(Debug)]
pub(crate) struct Launcher {
    /// Its directory entry.
    pub(crate) info: &'static ServiceInfo,
    launch: Launch,
}

impl Launcher {
    /// The launcher of the service configured by `C`.
    const fn of<C: ServiceConfig>() -> Self {
        Self {
            info: C::SERVICE,
            launch: launch::<C>,
        }
    }

    /// The service called `name` (ours or upstream's).
    pub(crate) fn find(name: &str) -> Option<&'static Self> {
        let info = directory::find(name)?;
        SERVICES.iter().find(|launcher| launcher.info == info)
    }

    /// Reads the service's config from `env`, binds, and returns the serving
    /// future. `alone` says this is the process's only service (so
    /// `OTEL_SERVICE_NAME` may rename it).
    pub(crate) async fn launch(
        &self,
        env: &Env,
        stop: CancellationToken,
        hub: &TelemetryHub,
        alone: bool,
    ) -> LaunchResult {
        let telemetry = hub
            .service(self.info.name, alone)
            .map_err(LaunchError::failed)?;
        (self.launch)(env, telemetry, stop).await
    }
}

fn launch<C: ServiceConfig>(
    env: &Env,
    telemetry: Telemetry,
    stop: CancellationToken,
) -> BoxFuture<'static, LaunchResult> {
    // Read before the future, which may not borrow `env`.
    let config = C::from_env(env);
    Box::pin(async move {
        let app = config?
            .build(telemetry)
            .await
            .map_err(LaunchError::failed)?;
        let addr = app.local_addr();
        let serve = Box::pin(async move { Ok(app.run_until(stop.cancelled_owned()).await?) });
        Ok(Launched {
            service: C::SERVICE,
            addr,
            serve,
        })
    })
}

/// A bound service and the future that serves it.
pub(crate) struct Launched {
    pub(crate) service: &'static ServiceInfo,
    pub(crate) addr: SocketAddr,
    pub(crate) serve: BoxFuture<'static, anyhow::Result<()>>,
}

/// `boutique <service>`: one subcommand per service, named and described by
/// the directory (upstream's name works too: `boutique cartservice`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunService(pub(crate) &'static Launcher);

impl clap::FromArgMatches for RunService {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let name = matches.subcommand_name().unwrap_or_default();
        Launcher::find(name).map(Self).ok_or_else(|| {
            clap::Error::raw(ErrorKind::InvalidSubcommand, format!("no service {name:?}"))
        })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl clap::Subcommand for RunService {
    fn augment_subcommands(command: Command) -> Command {
        SERVICES.iter().fold(command, |command, launcher| {
            let info = launcher.info;
            let api = match info.protocol {
                directory::Protocol::Grpc(name) => format!("`{name}`"),
                directory::Protocol::Http => "HTTP".to_owned(),
                directory::Protocol::Worker => "worker".to_owned(),
            };
            let mut sub = Command::new(info.name)
                .about(format!("{} ({api}, port {})", info.about, info.port));
            if info.upstream != info.name {
                sub = sub.alias(info.upstream);
            }
            command.subcommand(sub)
        })
    }

    fn augment_subcommands_for_update(command: Command) -> Command {
        Self::augment_subcommands(command)
    }

    fn has_subcommand(name: &str) -> bool {
        Launcher::find(name).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_directory_entry_has_its_crate_in_the_same_order() {
        let launched: Vec<_> = SERVICES.iter().map(|l| l.info.name).collect();
        let listed: Vec<_> = directory::ALL.iter().map(|s| s.name).collect();
        assert_eq!(launched, listed);
    }

    #[test]
    fn finds_services_by_our_name_or_upstream_one() {
        assert_eq!(Launcher::find("cart").unwrap().info.name, "cart");
        assert_eq!(
            Launcher::find("productcatalogservice").unwrap().info.name,
            "catalog"
        );
        assert!(Launcher::find("cashier").is_none());
    }
}
