//! `boutique all`: the whole shop in one process.
//!
//! Each backend binds its own ephemeral port on 127.0.0.1 and talks to the
//! others over real gRPC, exactly as separate containers would; only the
//! addresses are wired in memory. Settings that are not addresses (for example
//! `REDIS_ADDR`, `SMTP_URL`, `EXTRA_LATENCY`, `BASE_URL`) come from the
//! environment as usual. Any service can be left out and replaced by one that
//! runs elsewhere (an upstream container, say) with `--use`.

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::PathBuf,
    time::Instant,
};

use boutique_platform::{
    ConfigError, Env, config::parse_service_addr, listen::REUSE_PORT_VAR, shutdown,
};
use boutique_proto::directory::{self, FRONTEND, ServiceInfo};
use boutique_store::{DATABASE_FILE, DATABASE_URL_VAR, default_data_dir, redact::redact_url};
use futures::future::try_join_all;
use tokio_util::sync::CancellationToken;

use crate::{
    error::LaunchError,
    launch::{Launched, SERVICES},
    observe::{AdminAddr, Observability, flush},
};

/// Options of `boutique all`.
#[derive(Debug, Default, clap::Args)]
pub(crate) struct AllArgs {
    /// Where the storefront listens [default: `LISTEN_ADDR` (127.0.0.1) and `PORT` (8080)].
    #[arg(long, value_name = "IP:PORT")]
    listen: Option<SocketAddr>,
    /// Use a service that runs elsewhere instead of starting it, e.g.
    /// `--use cart=127.0.0.1:7070` or `--use cartservice=10.0.0.5:7070`. Repeatable.
    #[arg(long = "use", value_name = "SERVICE=HOST:PORT", value_parser = parse_external)]
    external: Vec<(&'static ServiceInfo, String)>,
    /// Where every service's metrics are served, on `/metrics` [default: 127.0.0.1 and
    /// `ADMIN_PORT` (9464), or a free port if 9464 is taken and `ADMIN_PORT` is unset].
    #[arg(long, value_name = "IP:PORT")]
    admin: Option<SocketAddr>,
    /// Where the shop keeps its database (orders, charges) when `DATABASE_URL` is unset
    /// [default: `DATA_DIR`, else `$XDG_DATA_HOME/boutique`, else `~/.local/share/boutique`].
    #[arg(long, value_name = "DIR", conflicts_with = "memory")]
    data: Option<PathBuf>,
    /// Keep everything in memory, lost at exit (tests, demos), unless `DATABASE_URL` is set.
    #[arg(long)]
    memory: bool,
}

/// The name of the session key file `boutique all` keeps in the data directory.
pub(crate) const SESSION_KEY_FILE: &str = "session.key";

/// The storefront's session key, when the environment names none: a file in
/// the data directory, made once (32 random bytes, hex, readable by the owner
/// only), so sessions, and with them a guest's cart and orders, survive a
/// restart of the shop. `None` with `--memory` (sessions end with the process)
/// or when the environment sets the key.
fn session_key_file(args: &AllArgs, env: &Env) -> Result<Option<PathBuf>, LaunchError> {
    if args.memory
        || env.get("SESSION_SECRET").is_some()
        || env.get("SESSION_SECRET_FILE").is_some()
    {
        return Ok(None);
    }
    let dir = args.data.clone().unwrap_or_else(|| default_data_dir(env));
    let path = dir.join(SESSION_KEY_FILE);
    boutique_store::secret_file::read_or_create(&path, || {
        let key: [u8; 32] = rand::random();
        key.iter().map(|b| format!("{b:02x}")).collect()
    })
    .map_err(LaunchError::failed)?;
    Ok(Some(path))
}

/// Where the shop's database is, as `DATABASE_URL` for every service: the
/// one the environment names, else memory (`--memory`), else the SQLite file
/// in the data directory (`--data`, `DATA_DIR`, the platform default), so
/// orders and charges survive a restart. Shown at start.
fn database_url(args: &AllArgs, env: &Env) -> String {
    if let Some(url) = env.get(DATABASE_URL_VAR) {
        return url.to_owned();
    }
    if args.memory {
        return "sqlite::memory:".to_owned();
    }
    let dir = args.data.clone().unwrap_or_else(|| default_data_dir(env));
    let file =
        std::path::absolute(dir.join(DATABASE_FILE)).unwrap_or_else(|_| dir.join(DATABASE_FILE));
    format!("sqlite://{}", file.display())
}

fn parse_external(text: &str) -> Result<(&'static ServiceInfo, String), String> {
    let (name, addr) = text.split_once('=').ok_or("expected SERVICE=HOST:PORT")?;
    let service = directory::find(name).ok_or_else(|| {
        let known: Vec<&str> = directory::ALL.iter().map(|s| s.name).collect();
        format!(
            "unknown service {name:?}; expected one of {}",
            known.join(", ")
        )
    })?;
    if service == &FRONTEND {
        return Err(
            "the storefront is what `boutique all` serves; use --listen to move it".to_owned(),
        );
    }
    Ok((service, parse_service_addr(addr)?))
}

/// Starts every service, waits for SIGTERM/SIGINT, then drains them all.
pub(crate) async fn run_all(args: AllArgs, env: Env) -> Result<(), LaunchError> {
    let started = Instant::now();
    let stop = CancellationToken::new();
    let frontend_listen = frontend_listen(&args, &env)?;
    let admin = match args.admin {
        Some(addr) => AdminAddr {
            addr,
            explicit: true,
        },
        None => AdminAddr::from_env(&env, IpAddr::V4(Ipv4Addr::LOCALHOST))?,
    };
    let admin = Observability::start(&env, admin, &stop).await?;
    let metrics_url = format!("http://{}/metrics", admin.admin_addr);
    let database = database_url(&args, &env);
    let session_key = session_key_file(&args, &env)?;
    let external: HashMap<&'static ServiceInfo, String> = args.external.into_iter().collect();

    // Backends listen on loopback only: `boutique all` is for one machine.
    // Their ports are the kernel's pick, which cannot be shared; the
    // storefront's can (`REUSE_PORT`), so it can be restarted in place.
    let frontend_reuse_port = env.get(REUSE_PORT_VAR).unwrap_or("false").to_owned();
    let mut env = env
        .with("LISTEN_ADDR", "127.0.0.1")
        .with("PORT", "0")
        .with(REUSE_PORT_VAR, "false")
        .with(DATABASE_URL_VAR, database.clone());
    if let Some(path) = &session_key {
        env = env.with("SESSION_SECRET_FILE", path.display().to_string());
    }
    for (service, addr) in &external {
        env = env.with(service.addr_var, addr.clone());
        tracing::info!(service = service.name, addr = %addr, "Using a service that runs elsewhere.");
    }
    let mut running = Vec::with_capacity(SERVICES.len());
    for launcher in &SERVICES {
        let service = launcher.info;
        if external.contains_key(service) {
            continue;
        }
        let service_env = if service == &FRONTEND {
            env.clone()
                .with("LISTEN_ADDR", frontend_listen.ip().to_string())
                .with("PORT", frontend_listen.port().to_string())
                .with(REUSE_PORT_VAR, frontend_reuse_port.clone())
        } else {
            env.clone()
        };
        let launched = launcher
            .launch(&service_env, stop.clone(), &admin.hub, false)
            .await?;
        // Services started later find this one through its upstream variable.
        env = env.with(service.addr_var, launched.addr.to_string());
        tracing::info!(service = service.name, addr = %launched.addr, "Started.");
        running.push(launched);
    }
    let shop_url = format!(
        "http://{}{}/",
        browsable(frontend_listen, &running),
        env.get("BASE_URL").unwrap_or("")
    );
    tracing::info!(services = running.len(), startup_ms = started.elapsed().as_millis(), url = %shop_url, metrics = %metrics_url, "Boutique is ready.");
    // The one line a person needs: where to shop. On stderr, so stdout stays
    // pure JSON lines when logs are collected.
    eprintln!(
        "Boutique is open at {shop_url}  (metrics: {metrics_url}; data: {}; Ctrl-C to stop)",
        redact_url(&database)
    );
    let (hub, admin) = admin.into_parts();
    let admin = tokio::spawn(admin);

    let serving = try_join_all(
        running
            .into_iter()
            .map(|launched| tokio::spawn(launched.serve)),
    );
    tokio::pin!(serving);
    let (finished, on_its_own) = tokio::select! {
        result = &mut serving => (result, true),
        () = shutdown::signal() => {
            stop.cancel();
            (serving.await, false)
        }
    };
    // A service that stops on its own is a failure: take the rest down too.
    stop.cancel();
    // The services have drained: their last spans can go out now.
    flush(hub).await;
    let admin = admin.await.map_err(LaunchError::failed)?;
    for result in finished.map_err(LaunchError::failed)? {
        result?;
    }
    if on_its_own {
        return Err(LaunchError::Failed(anyhow::anyhow!(
            "a service stopped unexpectedly"
        )));
    }
    admin.map_err(LaunchError::failed)?;
    tracing::info!("Boutique stopped.");
    Ok(())
}

/// `--listen`, else `LISTEN_ADDR`/`PORT` with loopback and 8080 as defaults.
fn frontend_listen(args: &AllArgs, env: &Env) -> Result<SocketAddr, ConfigError> {
    if let Some(listen) = args.listen {
        return Ok(listen);
    }
    let ip = env.parse_or("LISTEN_ADDR", IpAddr::V4(Ipv4Addr::LOCALHOST))?;
    let port = env.parse_or("PORT", FRONTEND.port)?;
    Ok(SocketAddr::new(ip, port))
}

/// The address to print: the bound one (port 0 resolved), with an unspecified
/// IP replaced by loopback so the link works when clicked.
fn browsable(listen: SocketAddr, running: &[Launched]) -> SocketAddr {
    let bound = running
        .iter()
        .find(|l| l.service == &FRONTEND)
        .map_or(listen, |l| l.addr);
    if bound.ip().is_unspecified() {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), bound.port())
    } else {
        bound
    }
}
