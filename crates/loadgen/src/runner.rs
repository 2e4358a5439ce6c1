//! Drives the shoppers: spawning, pacing (think time or a fixed schedule),
//! stopping, sending, and timing.
//!
//! Stopping has two stages. The *soft* stop (deadline, request budget spent,
//! first signal) stops new requests and wakes sleeping users; requests in
//! flight still finish and count. The *hard* stop (a grace period after a
//! soft stop caused by time or a signal, or a second signal) abandons what is
//! still in flight, so a stalled server cannot keep the run alive.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use boutique_flags::{Flags, names::LOAD_GENERATOR_FLOOD_HOMEPAGE};
use boutique_platform::Telemetry;
use rand::{RngCore, SeedableRng, rngs::StdRng};
use reqwest::{Client, redirect::Policy};
use tokio::{sync::mpsc, task::JoinHandle, time::sleep_until};
use tokio_util::sync::CancellationToken;

use crate::{
    Args, Error, Report, base_url, fake,
    metrics::LoadgenMetrics,
    shopper::{Next, Planned, Shopper},
    stats::{Outcome, Progress, Route, RunInfo, Sample, Stats},
};

/// How long requests in flight may finish after the run's time is up.
const GRACE: Duration = Duration::from_secs(5);

/// Redirects a browser would follow before giving up.
const MAX_REDIRECTS: usize = 10;

/// State every user shares.
#[derive(Debug)]
struct Shared {
    base: String,
    started: Instant,
    deadline: Option<Instant>,
    soft: CancellationToken,
    hard: CancellationToken,
    budget: Budget,
    samples: mpsc::UnboundedSender<Sample>,
    /// Open loop: the next unclaimed slot of the schedule.
    next_slot: AtomicU64,
    /// `loadGeneratorFloodHomepage`.
    flags: Flags,
}

/// The most extra home-page requests one user sends per task, whatever
/// `loadGeneratorFloodHomepage` says (the OpenTelemetry demo's `on` is 100).
pub const MAX_FLOOD: u32 = 1000;

/// The `--requests` limit: tickets handed out before each send.
#[derive(Debug)]
struct Budget {
    limit: Option<u64>,
    issued: AtomicU64,
}

impl Budget {
    /// Whether one more request may be sent. Whoever takes the last ticket
    /// triggers the soft stop, so sleeping users wake and leave at once.
    fn claim(&self, soft: &CancellationToken) -> bool {
        let Some(limit) = self.limit else {
            return true;
        };
        let taken = self.issued.fetch_add(1, Ordering::Relaxed);
        if taken + 1 >= limit {
            soft.cancel();
        }
        taken < limit
    }
}

/// Runs the load; each finished request also goes into `metrics` when given.
pub(crate) async fn run(args: Args, metrics: Option<LoadgenMetrics>) -> Result<Report, Error> {
    let base = base_url(&args.target)?;
    let stats = Stats::new()?;
    // Clients first, so a failure leaves nothing running.
    let clients = (0..args.users)
        .map(|_| client(args.timeout))
        .collect::<Result<Vec<_>, _>>()?;
    let seed = args.seed.unwrap_or_else(|| rand::rng().next_u64());
    let this_year = fake::this_year();
    // `--page` paths name report rows (`Route::Page`'s `&'static str`, so rows
    // stay `Copy` keys); leaking them once per run costs a few bytes per path.
    let pages: Option<Arc<[&'static str]>> = (!args.page.is_empty()).then(|| {
        args.page
            .iter()
            .map(|path| &*Box::leak(path.clone().into_boxed_str()))
            .collect()
    });
    if let Some(metrics) = &metrics {
        match &pages {
            Some(paths) => {
                metrics.announce(paths.iter().enumerate().map(|(index, path)| Route::Page {
                    index: u32::try_from(index).unwrap_or(u32::MAX),
                    path,
                }));
            }
            None => metrics.announce(Route::ALL),
        }
    }

    let started = Instant::now();
    let (samples, received) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        base: base.clone(),
        started,
        deadline: args.duration.map(|d| started + d),
        soft: CancellationToken::new(),
        hard: CancellationToken::new(),
        budget: Budget {
            limit: args.requests,
            issued: AtomicU64::new(0),
        },
        samples,
        next_slot: AtomicU64::new(0),
        flags: Flags::new(&args.flags, &Telemetry::detached("loadgen")),
    });
    let collector = tokio::spawn(collect(received, stats, metrics, started, !args.quiet));
    let stopper = tokio::spawn(stop_on_time_or_signal(
        shared.deadline,
        shared.soft.clone(),
        shared.hard.clone(),
    ));

    let mut users: Vec<JoinHandle<()>> = Vec::with_capacity(clients.len());
    for (index, client) in clients.into_iter().enumerate() {
        let rng = StdRng::seed_from_u64(seed.wrapping_add(index as u64));
        let shopper = match &pages {
            Some(paths) => Shopper::pages(rng, Arc::clone(paths), index),
            None if !args.task.is_empty() => Shopper::only(rng, this_year, &args.task),
            None => Shopper::new(rng, this_year),
        };
        let shared = Arc::clone(&shared);
        users.push(match args.rate {
            Some(rate) => tokio::spawn(open_loop_user(shared, shopper, client, rate)),
            None => {
                // Upstream's spawn rate: user i joins i/rate seconds in.
                let joins = started + Duration::from_secs_f64(index as f64 / args.spawn_rate);
                tokio::spawn(closed_loop_user(
                    shared,
                    shopper,
                    client,
                    joins,
                    args.think_time,
                ))
            }
        });
    }
    for user in users {
        // A user task only ends by returning; a panic there would be a bug
        // that the report's counts already reflect, so it is not fatal here.
        let _ = user.await;
    }
    let elapsed = started.elapsed();
    stopper.abort();
    // The last sender goes with `shared`, which ends the collector.
    drop(shared);
    let stats = collector.await?;
    Ok(stats.report(RunInfo {
        target: base,
        mode: if args.rate.is_some() {
            "open"
        } else {
            "closed"
        }
        .to_owned(),
        users: args.users,
        elapsed,
        max_failure_ratio: args.max_failure_ratio,
    }))
}

/// One cookie jar (and connection pool) per user, like one browser each.
fn client(timeout: Duration) -> Result<Client, reqwest::Error> {
    Client::builder()
        .cookie_store(true)
        .redirect(Policy::limited(MAX_REDIRECTS))
        .timeout(timeout)
        // Only ever talk to the target itself, never through a proxy from the environment.
        .no_proxy()
        .user_agent(concat!("boutique-loadgen/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Soft stop at the deadline or on the first signal; hard stop after the
/// grace period or on a second signal.
async fn stop_on_time_or_signal(
    deadline: Option<Instant>,
    soft: CancellationToken,
    hard: CancellationToken,
) {
    let time_up = async {
        match deadline {
            Some(deadline) => sleep_until(deadline.into()).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = time_up => {}
        () = boutique_platform::shutdown::signal() => {}
        // Budget spent: requests in flight finish normally, no hard stop needed.
        () = soft.cancelled() => return,
    }
    soft.cancel();
    tokio::select! {
        () = tokio::time::sleep(GRACE) => {}
        () = boutique_platform::shutdown::signal() => {}
    }
    hard.cancel();
}

/// Upstream's user: home page, then weighted tasks with think time after each.
async fn closed_loop_user(
    shared: Arc<Shared>,
    mut shopper: Shopper,
    client: Client,
    joins: Instant,
    think: crate::ThinkTime,
) {
    tokio::select! {
        () = sleep_until(joins.into()) => {}
        () = shared.soft.cancelled() => return,
    }
    // Locust waits after each task, not after `on_start`.
    let mut after_start = true;
    loop {
        let planned = match shopper.next_request() {
            Next::Request(planned) => planned,
            Next::NewTask(planned) => {
                let pause = shopper.think_time(think.min, think.max);
                if !after_start && !pause.is_zero() {
                    tokio::select! {
                        () = tokio::time::sleep(pause) => {}
                        () = shared.soft.cancelled() => return,
                    }
                }
                after_start = false;
                if !flood_home(&shared, &client).await {
                    return;
                }
                planned
            }
        };
        if shared.soft.is_cancelled() || !shared.budget.claim(&shared.soft) {
            return;
        }
        let sent = Instant::now();
        if !send_and_record(&shared, &client, &planned, sent).await {
            return;
        }
    }
}

/// Sends the extra home-page requests `loadGeneratorFloodHomepage` asks for
/// (within the `--requests` budget); `false` when the run is over.
async fn flood_home(shared: &Shared, client: &Client) -> bool {
    if !shared.flags.is_configured() {
        return true;
    }
    let wanted = shared.flags.number(LOAD_GENERATOR_FLOOD_HOMEPAGE).await;
    // Saturating float-to-int conversion: NaN and negatives are 0.
    let count = (wanted as u32).min(MAX_FLOOD);
    let home = Planned::home();
    for _ in 0..count {
        if shared.soft.is_cancelled() || !shared.budget.claim(&shared.soft) {
            return false;
        }
        if !send_and_record(shared, client, &home, Instant::now()).await {
            return false;
        }
    }
    true
}

/// wrk2-style: take the next slot of a fixed schedule, send at its time (or at
/// once if late), and time from the slot, not from the actual send.
async fn open_loop_user(shared: Arc<Shared>, mut shopper: Shopper, client: Client, rate: f64) {
    loop {
        let slot = shared.next_slot.fetch_add(1, Ordering::Relaxed);
        let intended = shared.started + Duration::from_secs_f64(slot as f64 / rate);
        if shared.deadline.is_some_and(|deadline| intended >= deadline) {
            return;
        }
        tokio::select! {
            () = sleep_until(intended.into()) => {}
            () = shared.soft.cancelled() => return,
        }
        let planned = match shopper.next_request() {
            Next::Request(planned) | Next::NewTask(planned) => planned,
        };
        if shared.soft.is_cancelled() || !shared.budget.claim(&shared.soft) {
            return;
        }
        if !send_and_record(&shared, &client, &planned, intended).await {
            return;
        }
    }
}

/// Sends one request, follows its redirects and reads the whole body, then
/// records the outcome timed from `since`. False if the run was hard-stopped.
async fn send_and_record(
    shared: &Shared,
    client: &Client,
    planned: &Planned,
    since: Instant,
) -> bool {
    let failure = tokio::select! {
        failure = send(client, &shared.base, planned) => failure,
        () = shared.hard.cancelled() => return false,
    };
    // The collector outlives every user, so the send cannot fail while it matters.
    let _ = shared.samples.send(Sample {
        route: planned.route,
        latency: since.elapsed(),
        outcome: failure
            .as_ref()
            .map_or(Outcome::Ok, |(outcome, _)| *outcome),
        failure: failure.map(|(_, reason)| reason),
    });
    true
}

/// `None` on a 2xx/3xx final status, else how it failed and why.
async fn send(client: &Client, base: &str, planned: &Planned) -> Option<(Outcome, String)> {
    let url = format!("{base}{}", planned.path);
    let request = if planned.route.method() == "GET" {
        client.get(url)
    } else {
        client.post(url).form(&planned.form)
    };
    let mut response = match request.send().await {
        Ok(response) => response,
        Err(error) => return Some(reason(&error)),
    };
    let status = response.status();
    // Read and drop the body chunk by chunk: the page must arrive, as for a
    // browser, but keeping it would only cost memory.
    loop {
        match response.chunk().await {
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(error) => return Some(reason(&error)),
        }
    }
    if status.is_success() || status.is_redirection() {
        None
    } else {
        Some((Outcome::HttpError, format!("HTTP {status}")))
    }
}

/// A short reason without the URL, so failures group by cause rather than by
/// product id: `timeout`, `connect: Connection refused (os error 111)`, ...
fn reason(error: &reqwest::Error) -> (Outcome, String) {
    let mut root: &dyn std::error::Error = error;
    while let Some(source) = root.source() {
        root = source;
    }
    let cause = if std::ptr::addr_eq(root, error as &dyn std::error::Error) {
        String::new()
    } else {
        format!(": {root}")
    };
    if error.is_timeout() {
        (Outcome::Timeout, "timeout".to_owned())
    } else if error.is_redirect() {
        (Outcome::HttpError, "too many redirects".to_owned())
    } else if error.is_connect() {
        (Outcome::ConnectionError, format!("connect{cause}"))
    } else if error.is_body() || error.is_decode() {
        (Outcome::ConnectionError, format!("response body{cause}"))
    } else {
        (Outcome::ConnectionError, format!("request{cause}"))
    }
}

/// Tallies samples until every user is gone; prints progress once a second.
async fn collect(
    mut received: mpsc::UnboundedReceiver<Sample>,
    mut stats: Stats,
    metrics: Option<LoadgenMetrics>,
    started: Instant,
    show_progress: bool,
) -> Stats {
    let in_place = crate::progress_in_place();
    let mut progress = Progress::new(started);
    let first_tick = tokio::time::Instant::from_std(started + Duration::from_secs(1));
    let mut ticker = tokio::time::interval_at(first_tick, Duration::from_secs(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut printed = false;
    loop {
        tokio::select! {
            sample = received.recv() => match sample {
                Some(sample) => {
                    if let Some(metrics) = &metrics {
                        metrics.record(&sample);
                    }
                    stats.record(&sample);
                }
                None => break,
            },
            _ = ticker.tick(), if show_progress => {
                let line = progress.line(&stats);
                if in_place {
                    // Redraw one line on a terminal; \x1b[K clears leftovers.
                    eprint!("\r{line}\x1b[K");
                } else {
                    eprintln!("{line}");
                }
                printed = true;
            }
        }
    }
    if printed && in_place {
        eprintln!();
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_hands_out_exactly_the_limit_and_stops() {
        let soft = CancellationToken::new();
        let budget = Budget {
            limit: Some(3),
            issued: AtomicU64::new(0),
        };
        assert!(budget.claim(&soft));
        assert!(budget.claim(&soft));
        assert!(!soft.is_cancelled());
        assert!(budget.claim(&soft));
        assert!(soft.is_cancelled(), "the last ticket stops the run");
        assert!(!budget.claim(&soft));
        let unlimited = Budget {
            limit: None,
            issued: AtomicU64::new(0),
        };
        assert!((0..1000).all(|_| unlimited.claim(&soft)));
    }

    #[tokio::test]
    async fn connect_failures_name_the_cause_not_the_url() {
        // A port that was just free: binding then closing it leaves nothing listening.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let client = client(Duration::from_secs(5)).unwrap();
        let planned = Planned {
            route: crate::stats::Route::Product,
            path: "/product/OLJCESPC7Z".to_owned(),
            form: Vec::new(),
        };
        let (outcome, reason) = send(&client, &format!("http://127.0.0.1:{port}"), &planned)
            .await
            .expect("nothing listens there");
        assert_eq!(outcome, Outcome::ConnectionError);
        assert!(reason.starts_with("connect"), "{reason}");
        assert!(!reason.contains("OLJCESPC7Z"), "{reason}");
        assert!(!reason.contains("127.0.0.1"), "{reason}");
    }
}
