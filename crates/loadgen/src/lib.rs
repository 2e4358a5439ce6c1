//! `boutique loadgen`: upstream Online Boutique's Locust shopper, in Rust.
//!
//! Each simulated user has its own cookie jar and connection, starts with the
//! home page (upstream's `on_start`), then repeats tasks chosen by upstream's
//! weights: index 1, setCurrency 2, browseProduct 10, addToCart 2, viewCart 3,
//! checkout 1 (addToCart, then a checkout form with fake but valid data: email,
//! street, 5-digit zip, city, state abbreviation, country, a Luhn-correct
//! 16-digit Visa number, an expiry month 1-12 and year next year to +70, a CVV
//! of 100-999). Redirects are followed as a browser (and Locust's
//! `FastHttpUser`) does, and a request counts once, under its own name, with
//! its final status: anything but 2xx/3xx, or a transport error, is a failure
//! whose reason is recorded.
//!
//! # Modes
//! - **Closed loop** (default): `--users` shoppers, started at `--spawn-rate`
//!   per second, each thinking `--think-time` between tasks (upstream:
//!   `between(1, 10)` seconds; `0` for maximum throughput). Latency runs from
//!   the moment a request is sent.
//! - **Open loop** (`--rate R`, like wrk2): request slots are scheduled every
//!   `1/R` seconds from the start, whatever the server does; each of the
//!   `--users` shoppers takes the next free slot, waits for its time and sends.
//!   Latency runs from the slot's *intended* time, so when the server stalls,
//!   the requests that should have gone out meanwhile carry the stall in their
//!   latency instead of silently not being sent (coordinated omission). Think
//!   time and spawn rate do not apply; `--users` bounds the connections, so
//!   give it enough for `R x latency`.
//! - **Single page** (`--page PATH`, repeatable): instead of the shopper's task
//!   mix, each user GETs the given paths in turn (user i starts at path
//!   i mod n), with its own cookie jar. This is what `wrk -cN URL` does, so
//!   both tools can be run on the same page and their figures compared
//!   (`scripts/bench/run.sh` does). With `--page`, think time defaults to `0`
//!   and every user starts at once, like wrk's connections; an explicit
//!   `--think-time` or `--spawn-rate` still applies. Combines with `--rate`.
//!
//! # Options (environment variable and default in brackets, upstream-compatible)
//! - `--target URL|HOST:PORT` [`FRONTEND_ADDR`, required]: e.g. `frontend:80`, or
//!   `http://127.0.0.1:8080/base` with a `BASE_URL` prefix. Plain HTTP only.
//! - `--users N` [`USERS`, 10]; `--spawn-rate R` users per second [`RATE`, 1].
//! - `--duration D` (Go-style: `90s`, `2m30s`) and/or `--requests N` (exactly N
//!   requests, then stop). Without either, runs until SIGINT/SIGTERM, like
//!   upstream's Deployment. A second signal abandons requests in flight.
//! - `--think-time MIN..MAX` (`1s..10s`; one value for a fixed time; `0` for none).
//! - `--rate R`: open-loop mode at R requests per second.
//! - `--page PATH` (repeatable): single-page mode, e.g. `--page /product/OLJCESPC7Z`.
//! - `--task TASK` (repeatable: `index`, `set-currency`, `browse-product`,
//!   `add-to-cart`, `view-cart`, `checkout`): only these tasks of the mix, no
//!   home-page start. With `--rate` it measures one flow's latency at a fixed
//!   rate: `--task checkout --rate 1500` sends 500 checkouts a second (each is
//!   a product page, an add to cart and the checkout).
//! - `--timeout D` per request, redirects included (60s, as Locust).
//! - `--max-failure-ratio F` (0.0): the run fails (exit status 1) when
//!   `failures / requests` exceeds F, or when no request finished at all.
//! - `--report text|json`: the final report on stdout.
//! - `--quiet`: no progress line (otherwise one line a second on stderr:
//!   elapsed, requests, failures, current req/s).
//! - `--seed N`: reproducible task and data choices.
//! - `--admin-port PORT` [`ADMIN_PORT`, 9464] and `--listen-addr IP`
//!   [`LISTEN_ADDR`, all interfaces]: the admin port, as every Boutique
//!   process has: `/healthz` (for probes) and `/metrics` (Prometheus: requests
//!   by route and outcome, latency histograms by route, process metrics). A
//!   taken default port falls back to a free one; `0` asks for a free one.
//!
//! The report has, per route (product pages grouped as `/product/{id}`) and in
//! aggregate: requests, failures with a count per reason, req/s, and latency
//! p50/p90/p99/max/mean in milliseconds from an HDR histogram at microsecond
//! resolution. The generator only ever sends to the target it is given.

mod admin;
pub mod fake;
mod metrics;
mod runner;
pub mod shopper;
pub mod stats;

use std::{
    io::{IsTerminal, Write},
    net::{IpAddr, Ipv4Addr, SocketAddr},
    time::Duration,
};

use boutique_flags::FlagsConfig;
use boutique_platform::{admin::AdminServer, config::parse_go_duration, telemetry::Metrics};
use clap::builder::ArgPredicate;
use tokio_util::sync::CancellationToken;

use crate::metrics::LoadgenMetrics;

pub use runner::MAX_FLOOD;

pub use crate::stats::{Latency, Report, RouteStats};

/// Exit status for bad options, as the rest of the binary uses (`EX_USAGE`).
pub const EXIT_CONFIG: u8 = 64;

/// Options of `boutique loadgen` (see the crate docs).
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The storefront: `host:port` (upstream's `FRONTEND_ADDR`, e.g. `frontend:80`) or an http:// URL.
    #[arg(long, env = "FRONTEND_ADDR", value_name = "URL|HOST:PORT")]
    pub target: String,
    /// Simulated users; in open-loop mode, concurrent connections.
    #[arg(long, env = "USERS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub users: u32,
    /// Users started per second (closed loop); with `--page`, all at once.
    #[arg(
        long,
        env = "RATE",
        default_value_t = 1.0,
        default_value_if("page", ArgPredicate::IsPresent, Some(ALL_AT_ONCE)),
        value_parser = positive_f64
    )]
    pub spawn_rate: f64,
    /// Stop after this long (Go-style: `60s`, `2m30s`).
    #[arg(long, value_parser = parse_go_duration)]
    pub duration: Option<Duration>,
    /// Stop after exactly this many requests.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub requests: Option<u64>,
    /// Pause between a user's tasks, drawn uniformly: `MIN..MAX`, one value, or `0`
    /// (the default with `--page`).
    #[arg(
        long,
        default_value = "1s..10s",
        default_value_if("page", ArgPredicate::IsPresent, Some("0")),
        value_parser = parse_think_time,
        value_name = "MIN..MAX"
    )]
    pub think_time: ThinkTime,
    /// Open-loop mode: send this many requests per second on a fixed schedule.
    #[arg(long, value_parser = positive_f64, value_name = "REQ_PER_S")]
    pub rate: Option<f64>,
    /// Single-page mode: GET only this path below the target (repeatable:
    /// users take the paths in turn), like wrk, instead of the shopper's tasks.
    #[arg(long = "page", value_name = "PATH", value_parser = parse_page)]
    pub page: Vec<String>,
    /// Task mode: only this task of the shopper's mix (repeatable; drawn by
    /// upstream's weights among themselves), without the home-page start,
    /// e.g. `--task checkout --rate 1500` for 500 checkouts a second.
    #[arg(
        long = "task",
        value_enum,
        value_name = "TASK",
        conflicts_with = "page"
    )]
    pub task: Vec<shopper::Task>,
    /// Per-request timeout, redirects included.
    #[arg(long, default_value = "60s", value_parser = parse_go_duration)]
    pub timeout: Duration,
    /// Exit non-zero when failures / requests exceeds this.
    #[arg(long, default_value_t = 0.0, value_parser = ratio)]
    pub max_failure_ratio: f64,
    /// Format of the final report on stdout.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub report: ReportFormat,
    /// No live progress line on stderr.
    #[arg(long)]
    pub quiet: bool,
    /// Seed for task and data choices (random by default).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Admin port (`/metrics`, `/healthz`) [default: 9464, or a free port if
    /// that is taken]; `0` for a free port.
    #[arg(long, env = "ADMIN_PORT", value_name = "PORT")]
    pub admin_port: Option<u16>,
    /// Address the admin port listens on.
    #[arg(long, env = "LISTEN_ADDR", default_value_t = IpAddr::V4(Ipv4Addr::UNSPECIFIED))]
    pub listen_addr: IpAddr,
    /// Where the failure flags come from (`FLAGD_*`, read by the binary):
    /// `loadGeneratorFloodHomepage` adds that many `GET /` per shopper task
    /// (closed loop), at most [`MAX_FLOOD`].
    #[arg(skip)]
    pub flags: FlagsConfig,
}

impl Args {
    /// Defaults for `target`, as if no other flag were given (for tests and embedding).
    pub fn new(target: impl Into<String>) -> Self {
        Self {
            target: target.into(),
            users: 10,
            spawn_rate: 1.0,
            duration: None,
            requests: None,
            think_time: ThinkTime {
                min: Duration::from_secs(1),
                max: Duration::from_secs(10),
            },
            rate: None,
            page: Vec::new(),
            task: Vec::new(),
            timeout: Duration::from_secs(60),
            max_failure_ratio: 0.0,
            report: ReportFormat::Text,
            quiet: false,
            seed: None,
            admin_port: None,
            listen_addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            flags: FlagsConfig::Off,
        }
    }
}

/// A think-time range; `min == max` for a fixed pause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThinkTime {
    /// Shortest pause.
    pub min: Duration,
    /// Longest pause.
    pub max: Duration,
}

/// How the final report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// A table for people.
    Text,
    /// One JSON document for machines.
    Json,
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The target is not a usable http:// URL or host:port.
    #[error("invalid target {target:?}: {reason}")]
    Target {
        /// As given.
        target: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An HTTP client could not be built.
    #[error("cannot build an HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    /// The latency histograms could not be created.
    #[error("cannot create latency histograms: {0}")]
    Histogram(#[from] hdrhistogram::CreationError),
    /// The task that tallies results stopped abnormally.
    #[error("the results collector failed: {0}")]
    Collector(#[from] tokio::task::JoinError),
    /// The admin port could not be bound.
    #[error("cannot listen on the admin address {addr}: {source}")]
    Admin {
        /// The address asked for.
        addr: SocketAddr,
        /// Why not.
        source: std::io::Error,
    },
    /// The metrics could not be registered.
    #[error("cannot register the metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

/// Runs the load and returns the report, without an admin port (for tests
/// and embedding; [`Loadgen`] has one). Progress goes to stderr unless `quiet`.
pub async fn run(args: Args) -> Result<Report, Error> {
    runner::run(args, None).await
}

/// A load generator whose admin port is bound: [`Loadgen::bind`], then
/// [`Loadgen::run`]. `boutique loadgen` is this.
#[derive(Debug)]
pub struct Loadgen {
    args: Args,
    metrics: LoadgenMetrics,
    admin: AdminServer,
}

impl Loadgen {
    /// Checks the target, registers the metrics and binds the admin port
    /// (`args.listen_addr`, `args.admin_port`), so nothing runs when one fails.
    pub async fn bind(args: Args) -> Result<Self, Error> {
        base_url(&args.target)?;
        let registry = Metrics::new();
        let metrics = LoadgenMetrics::register(registry.registry())?;
        let admin = admin::bind(args.listen_addr, args.admin_port, registry).await?;
        Ok(Self {
            args,
            metrics,
            admin,
        })
    }

    /// The admin port's address (the real port when 0 was asked for).
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin.local_addr()
    }

    /// Runs the load, serving the admin port until the run ends; returns the report.
    pub async fn run(self) -> Result<Report, Error> {
        let stop = CancellationToken::new();
        let admin = tokio::spawn(self.admin.run_until(stop.clone().cancelled_owned()));
        let report = runner::run(self.args, Some(self.metrics)).await;
        stop.cancel();
        // Losing the admin port does not spoil the run's report, so it is only reported.
        match admin.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!("boutique loadgen: the admin port failed: {error}"),
            Err(error) => eprintln!("boutique loadgen: the admin port stopped abnormally: {error}"),
        }
        report
    }
}

/// `boutique loadgen`: runs, writes the report to stdout and returns the exit
/// status (0 pass, 1 failure ratio over the threshold or nothing finished,
/// 64 bad options).
pub async fn run_and_report(args: Args) -> u8 {
    let format = args.report;
    let result = match Loadgen::bind(args).await {
        Ok(loadgen) => {
            eprintln!(
                "boutique loadgen: /metrics and /healthz on {}",
                loadgen.admin_addr()
            );
            loadgen.run().await
        }
        Err(error) => Err(error),
    };
    match result {
        Ok(report) => {
            let text = match format {
                ReportFormat::Text => report.to_text(),
                ReportFormat::Json => report.to_json(),
            };
            let mut stdout = std::io::stdout().lock();
            // A closed stdout (e.g. piped into `head`) must not turn a passing
            // run into a failing one, so write errors are ignored.
            let _ = writeln!(stdout, "{}", text.trim_end());
            let _ = stdout.flush();
            report.exit_status()
        }
        Err(error) => {
            eprintln!("boutique loadgen: {error}");
            match error {
                Error::Target { .. } => EXIT_CONFIG,
                Error::Client(_)
                | Error::Histogram(_)
                | Error::Collector(_)
                | Error::Admin { .. }
                | Error::Metrics(_) => 1,
            }
        }
    }
}

/// `http://host:port[/base]` without a trailing slash, from a URL or upstream's
/// bare `host:port`.
pub fn base_url(target: &str) -> Result<String, Error> {
    let invalid = |reason: &str| Error::Target {
        target: target.to_owned(),
        reason: reason.to_owned(),
    };
    let trimmed = target.trim();
    let with_scheme = if trimmed.contains("://") {
        trimmed.to_owned()
    } else {
        format!("http://{trimmed}")
    };
    let url = reqwest::Url::parse(&with_scheme).map_err(|e| invalid(&e.to_string()))?;
    if url.scheme() != "http" {
        return Err(invalid("only http:// targets are supported"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("a query or fragment makes no sense here"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

fn parse_think_time(text: &str) -> Result<ThinkTime, String> {
    let (min, max) = match text.split_once("..") {
        Some((min, max)) => (
            parse_go_duration(min.trim())?,
            parse_go_duration(max.trim())?,
        ),
        None => {
            let fixed = parse_go_duration(text.trim())?;
            (fixed, fixed)
        }
    };
    if min > max {
        return Err(format!("{text:?}: the minimum is above the maximum"));
    }
    Ok(ThinkTime { min, max })
}

/// `--page`'s spawn rate: users per second high enough that all start at once.
const ALL_AT_ONCE: &str = "1000000";

/// A path below the target: starts with `/` (a query is fine), no fragment,
/// no whitespace, so it names exactly the page wrk would be given.
fn parse_page(text: &str) -> Result<String, String> {
    if !text.starts_with('/') || text.starts_with("//") {
        return Err(format!(
            "{text:?}: a path below the target must start with one '/'"
        ));
    }
    if text.contains('#') || text.chars().any(char::is_whitespace) {
        return Err(format!(
            "{text:?}: no fragment or whitespace in a page path"
        ));
    }
    Ok(text.to_owned())
}

fn positive_f64(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() && value > 0.0 => Ok(value),
        _ => Err(format!("{text:?} is not a positive number")),
    }
}

fn ratio(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if (0.0..=1.0).contains(&value) => Ok(value),
        _ => Err(format!("{text:?} is not a ratio from 0 to 1")),
    }
}

/// Whether to redraw the progress line in place (a terminal) or append lines (a log).
fn progress_in_place() -> bool {
    std::io::stderr().is_terminal()
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn parse(argv: &[&str]) -> Result<Args, clap::Error> {
        Cli::try_parse_from(std::iter::once("loadgen").chain(argv.iter().copied())).map(|c| c.args)
    }

    #[test]
    fn smoke_job_command_line_parses() {
        let args = parse(&[
            "--target",
            "frontend:80",
            "--users",
            "5",
            "--duration",
            "60s",
            "--max-failure-ratio",
            "0",
        ])
        .unwrap();
        assert_eq!(args.users, 5);
        assert_eq!(args.duration, Some(Duration::from_secs(60)));
        assert_eq!(args.max_failure_ratio, 0.0);
        assert_eq!(args.spawn_rate, 1.0);
        assert_eq!(
            args.think_time,
            ThinkTime {
                min: Duration::from_secs(1),
                max: Duration::from_secs(10)
            }
        );
        assert_eq!(args.rate, None);
        // The admin port: 9464 unless given, on every interface (probes reach the pod's IP).
        assert_eq!(args.admin_port, None);
        assert_eq!(args.listen_addr, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let args = parse(&[
            "--target",
            "x:1",
            "--admin-port",
            "0",
            "--listen-addr",
            "127.0.0.1",
        ]);
        let args = args.unwrap();
        assert_eq!(args.admin_port, Some(0));
        assert!(args.listen_addr.is_loopback());
        assert!(parse(&["--target", "x:1", "--admin-port", "65536"]).is_err());
        assert!(parse(&["--target", "x:1", "--listen-addr", "localhost"]).is_err());
        let args = parse(&["--target", "frontend:80"]).unwrap();
        // The URL form drops the default port.
        assert_eq!(base_url(&args.target).unwrap(), "http://frontend");
    }

    #[test]
    fn task_mode_takes_named_tasks_and_excludes_page_mode() {
        let args = parse(&[
            "--target",
            "x:1",
            "--task",
            "checkout",
            "--task",
            "view-cart",
        ])
        .unwrap();
        assert_eq!(
            args.task,
            [shopper::Task::Checkout, shopper::Task::ViewCart]
        );
        assert!(parse(&["--target", "x:1", "--task", "pay"]).is_err());
        assert!(parse(&["--target", "x:1", "--task", "checkout", "--page", "/"]).is_err());
    }

    #[test]
    fn page_mode_defaults_to_no_think_time_and_all_users_at_once() {
        let args = parse(&["--target", "x:1", "--page", "/", "--page", "/product/X?a=1"]).unwrap();
        assert_eq!(args.page, ["/", "/product/X?a=1"]);
        assert_eq!(args.think_time.max, Duration::ZERO);
        assert!(args.spawn_rate >= 1e6);
        // Explicit values still win.
        let args = parse(&[
            "--target",
            "x:1",
            "--page",
            "/",
            "--think-time",
            "1s",
            "--spawn-rate",
            "2",
        ])
        .unwrap();
        assert_eq!(args.think_time.min, Duration::from_secs(1));
        assert_eq!(args.spawn_rate, 2.0);
        for bad in ["cart", "//evil.example/", "/a b", "/#x", ""] {
            assert!(
                parse(&["--target", "x:1", "--page", bad]).is_err(),
                "{bad:?}"
            );
        }
        // Without --page, the shopper's defaults hold.
        let args = parse(&["--target", "x:1"]).unwrap();
        assert!(args.page.is_empty());
        assert_eq!(args.think_time.max, Duration::from_secs(10));
    }

    #[test]
    fn think_time_forms() {
        assert_eq!(parse_think_time("0").unwrap().max, Duration::ZERO);
        let fixed = parse_think_time("250ms").unwrap();
        assert_eq!(fixed.min, fixed.max);
        let range = parse_think_time("1s..2.5s").unwrap();
        assert_eq!(range.max, Duration::from_millis(2500));
        assert!(parse_think_time("10s..1s").is_err());
        assert!(parse_think_time("fast").is_err());
    }

    #[test]
    fn bad_options_are_rejected() {
        assert!(parse(&["--target", "x:1", "--users", "0"]).is_err());
        assert!(parse(&["--target", "x:1", "--rate", "-5"]).is_err());
        assert!(parse(&["--target", "x:1", "--max-failure-ratio", "1.5"]).is_err());
        assert!(parse(&["--target", "x:1", "--duration", "ten"]).is_err());
        assert!(parse(&["--target", "x:1", "--report", "xml"]).is_err());
    }

    #[test]
    fn targets() {
        assert_eq!(base_url("127.0.0.1:8080").unwrap(), "http://127.0.0.1:8080");
        assert_eq!(base_url("http://shop:80/").unwrap(), "http://shop");
        assert_eq!(
            base_url("http://127.0.0.1:8080/online-boutique/").unwrap(),
            "http://127.0.0.1:8080/online-boutique"
        );
        assert!(base_url("https://shop").is_err());
        assert!(base_url("").is_err());
        assert!(base_url("http://shop/?a=1").is_err());
    }
}
