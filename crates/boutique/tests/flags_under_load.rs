//! Every failure flag of the repository's flag file, switched on and off in
//! turn on the whole shop (`boutique all`) while `boutique loadgen` shops at
//! it: each flag's effect shows in the shop's own metrics (its admin port,
//! scraped as Prometheus would), its evaluations are counted by variant and
//! reach an OTLP receiver (served by tonic here) as `feature_flag.evaluation`
//! span events, and, switched off, the shop recovers: the effect stops over a
//! window of traffic, no order is left unfinished, and the storefront's pages
//! answer 200. `docs/flags.md` is the table checked.
//!
//! The flags come from the repository's file, so a flag added there without a
//! check here fails the test ([`rounds`]). A round writes a copy of the file
//! with its flags' `defaultVariant` changed (written aside and renamed over),
//! polls until the effect shows, writes the file back all off and polls until
//! the shop has recovered, each with a bounded patience. The per-service flags
//! share rounds where their effects cannot hide one another: every latency
//! flag at once, the error flags in five groups (see [`ERROR_GROUPS`]). Three
//! flags are asked outside any request, so their evaluations leave no span
//! event (the cart's readiness, the two queue flags), and the load
//! generator's own flag is seen only in the storefront's traffic ([`Recorded`]).
//!
//! Loadgen's failures are read from its own metrics at each round's start and
//! end. A round that harms no shopper (ads, memory, pictures, readiness,
//! queues, latency) must see none. A failing round may, but its recovery holds
//! only after a stretch of loadgen traffic without a new failure and with no
//! order unfinished (an order left charged keeps its cart claimed, and its
//! shopper's next checkout would fail in the next round). At the end,
//! loadgen's report has exactly the failures counted in the failing rounds,
//! and the audit of payment's ledger against the orders is balanced and
//! settled: no charge lost or doubled.

mod support;

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    io::{BufRead, BufReader, Read},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use boutique_flags::names::{GRPC_SERVICES, errors_flag, latency_flag};
use boutique_store::{Database, Location, OrderBook, StoreConfig, audit::audit};
use opentelemetry_proto::tonic::{
    collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
        trace_service_server::{TraceService, TraceServiceServer},
    },
    common::v1::{KeyValue, any_value::Value},
};
use serde_json::Value as Json;
use tokio::{net::TcpListener, task::JoinHandle};
use tonic::{Request, Response, Status, transport::server::TcpIncoming};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use support::{BOUTIQUE, CARD, interrupt, shopper, try_checkout_at};

/// The repository's flag file, every flag off.
const FLAG_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../deploy/flags/boutique.flagd.json"
);

/// How long a flag may take to show its effect, or the shop to recover.
const PATIENCE: Duration = Duration::from_secs(20);

/// Between two scrapes while waiting.
const POLL: Duration = Duration::from_millis(100);

/// Loadgen requests a recovery window must hold, none failed.
const QUIET_REQUESTS: f64 = 40.0;

/// A product of the catalog (Sunglasses), and its picture.
const PRODUCT: &str = "OLJCESPC7Z";
const PICTURE: &str = "/static/img/products/sunglasses.jpg";

/// The pages a shopper with something in the cart visits.
const PAGES: [&str; 3] = ["/", "/product/OLJCESPC7Z", "/cart"];

/// Where the storefront counts requests.
const HTTP_REQUESTS: &str = "http_server_requests_total";
/// Where every gRPC server counts calls, by code.
const GRPC_HANDLED: &str = "grpc_server_handled_total";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_flag_under_load_shows_its_effect_and_the_shop_recovers() {
    let started = Instant::now();
    let flags = FlagSwitch::copy_of_repository_file();
    let rounds = rounds();
    assert_covers_the_file(&rounds, &flags);

    let receiver = Receiver::default();
    let collector = receiver.clone().start().await.to_string();
    let data = tempfile::tempdir().unwrap();
    let flag_path = flags.path().display().to_string();
    let shop = Shop::start(
        data.path(),
        &[
            ("FLAGD_OFFLINE_FLAG_SOURCE_PATH", &flag_path),
            ("FLAGD_OFFLINE_POLL_MS", "100"),
            ("ENABLE_TRACING", "1"),
            ("COLLECTOR_SERVICE_ADDR", &collector),
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
            // The reconciler finishes what a fault left within about a second.
            ("RECONCILE_INTERVAL", "200ms"),
            ("POST_CHARGE_TIMEOUT", "1s"),
            ("DISPATCH_DELAY", "100ms"),
            ("DELIVERY_DELAY", "100ms"),
        ],
    );
    let database = Database::connect(&StoreConfig::at(Location::SqliteFile(
        data.path().join(boutique_store::DATABASE_FILE),
    )))
    .await
    .unwrap();
    let mut load = Loadgen::start(
        &shop.url,
        &[
            ("FLAGD_OFFLINE_FLAG_SOURCE_PATH", &flag_path),
            ("FLAGD_OFFLINE_POLL_MS", "100"),
        ],
    );
    let cart = shop.backends.get("cart").expect("cart's address").clone();
    let probe = Probe {
        http: reqwest::Client::new(),
        shopper: shopper(),
        shop_url: shop.url.clone(),
        metrics_url: shop.metrics_url.clone(),
        loadgen_url: load.metrics_url.clone(),
        cart: format!("http://{cart}"),
        book: OrderBook::new(&database),
        background: Mutex::default(),
    };

    // The shop works before any flag: a quiet window, every page answers.
    let mut counted_failures = 0.0;
    let baseline = probe.scrape().await;
    recover(&probe, &Round::new("baseline"), &baseline, &baseline).await;
    let mut before = probe.scrape().await;
    for round in &rounds {
        let on = Instant::now();
        flags.switch(&round.flags);
        let switched = show(&probe, round, &before, &receiver).await;
        let shown_after = on.elapsed();
        flags.switch(&[]);
        let after = recover(&probe, round, &before, &switched).await;
        let failed = after.loadgen_failures() - before.loadgen_failures();
        assert!(
            round.hurts_shoppers || failed == 0.0,
            "{}: loadgen saw {failed} failures though the round harms no shopper",
            round.name
        );
        counted_failures += failed;
        // With --nocapture: how long each round took.
        eprintln!(
            "{:<54} shown {:>4.1} s, recovered {:>4.1} s, loadgen failures {failed}",
            round.name,
            shown_after.as_secs_f64(),
            (on.elapsed() - shown_after).as_secs_f64()
        );
        before = after;
    }

    // Loadgen's report: every failure it saw was counted in a failing round.
    let report = load.stop();
    assert!(report["requests"].as_f64().unwrap() > 0.0, "{report}");
    assert_eq!(
        report["failures"].as_f64().unwrap(),
        counted_failures,
        "loadgen failed requests outside the failing rounds: {report}"
    );
    // No charge lost or doubled across all those failures, and every order settled.
    boutique_testkit::eventually("every order settled", PATIENCE, || async {
        let stuck = probe.book.stuck(0).await.unwrap();
        stuck.iter().all(|(_, n)| *n == 0).then_some(())
    })
    .await;
    let audited = audit(&database, 0).await.unwrap();
    assert!(audited.balanced(), "{audited:#?}");
    assert!(audited.settled(), "{audited:#?}");
    assert!(audited.charges >= 1, "the load placed orders: {audited:#?}");
    assert!(shop.interrupt().success());
    eprintln!(
        "{} requests, {} failures (all in failing rounds), {} charges; {:.1} s in all",
        report["requests"],
        report["failures"],
        audited.charges,
        started.elapsed().as_secs_f64()
    );
}

// === The table ===

/// Flags switched on together, what each shows, and whether shoppers may
/// see failures meanwhile.
#[derive(Debug)]
struct Round {
    name: String,
    /// Each flag and the variant switched on.
    flags: Vec<(String, &'static str)>,
    effects: Vec<Effect>,
    /// Whether loadgen's requests may fail while it is on.
    hurts_shoppers: bool,
    /// How the shop records the flags' evaluations.
    recorded: Recorded,
}

/// Where a flag's evaluations show, besides its effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recorded {
    /// Counted (`boutique_feature_flag_evaluations_total`, by variant) and
    /// an event on the span of the request that asked.
    CountedAndTraced,
    /// Counted; asked outside any span, for the reason given.
    Counted(&'static str),
    /// Neither, for the reason given.
    Elsewhere(&'static str),
}

impl Round {
    fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            flags: Vec::new(),
            effects: Vec::new(),
            hurts_shoppers: false,
            recorded: Recorded::CountedAndTraced,
        }
    }

    fn flag(name: &str, variant: &'static str, effects: Vec<Effect>) -> Self {
        let mut round = Self::new(name);
        round.flags.push((name.to_owned(), variant));
        round.effects = effects;
        round
    }

    fn hurting(mut self) -> Self {
        self.hurts_shoppers = true;
        self
    }

    fn recorded(mut self, recorded: Recorded) -> Self {
        self.recorded = recorded;
        self
    }
}

/// The per-service error flags, in groups (with the variant) where no
/// failing service keeps the calls from another: a checkout calls orders,
/// cart, catalog, currency, shipping, payment, then email, and fails at the
/// first service that fails it. The storefront calls cart, checkout,
/// currency, shipping, ad and recommendation itself. Orders and catalog are
/// called by checkout only, so they fail half of their calls, orders letting
/// half of the checkouts through to catalog. Payment and email come last and
/// have a round each: half of the charges failing would hold carts (a charge
/// whose outcome is unknown keeps its order open until the reconciler looks)
/// and starve email of checkouts.
const ERROR_GROUPS: [(&[&str], &str); 5] = [
    (&["currency", "shipping", "ad", "recommendation"], "100%"),
    (&["cart", "checkout"], "100%"),
    (&["orders", "catalog"], "50%"),
    (&["payment"], "100%"),
    (&["email"], "100%"),
];

/// The queue flags: order events are published (the orders relay's loop) and
/// consumed (dispatch's handler) outside any span.
const UNTRACED_EVENTS: Recorded = Recorded::Counted("order events travel without spans");

/// Every round: each flag of the repository's file once.
fn rounds() -> Vec<Round> {
    let place_order = series(GRPC_HANDLED, &[("grpc_method", "PlaceOrder")]);
    let checkout_fails = |stage: &str| Effect::Counter {
        count: series("boutique_checkout_failures_total", &[("stage", stage)]),
        traffic: place_order.clone(),
        quiet_after: 5.0,
    };
    // Calls of `method` that `service` answered with `code`.
    let code_after = |service: &str, method: &str, code: &str, quiet_after: f64| {
        let calls = series(
            GRPC_HANDLED,
            &[("service_name", service), ("grpc_method", method)],
        );
        Effect::Counter {
            count: calls.clone().with("grpc_code", code),
            traffic: calls,
            quiet_after,
        }
    };
    let code = |service: &str, method: &str, code: &str| code_after(service, method, code, 5.0);
    let mut rounds = vec![
        // One GetAds in ten: 50 calls without one make a quiet window.
        Round::flag(
            "adFailure",
            "on",
            vec![code_after("ad", "GetAds", "Unavailable", 50.0)],
        ),
        // 20 ms of CPU per call: every call slower than 10 ms.
        Round::flag("adHighCpu", "on", vec![Effect::slow("ad", "0.01")]),
        // The 32 MiB burst is freed within the call, so neither the resident
        // size nor the latency shows it reliably on a scrape: the
        // evaluations and their span events are what shows.
        Round::flag("adManualGc", "on", Vec::new()),
        Round::flag(
            "cartFailure",
            "100%",
            vec![
                code("cart", "EmptyCart", "Unavailable"),
                checkout_fails("cart"),
                Effect::CartsEmptiedLater,
            ],
        )
        // The charged carts stay claimed until the reconciler empties
        // them: the shopper's next checkout is refused meanwhile.
        .hurting(),
        Round::flag(
            "paymentFailure",
            "100%",
            vec![
                checkout_fails("payment"),
                code("payment", "Charge", "FailedPrecondition"),
            ],
        )
        .hurting(),
        Round::flag(
            "paymentUnreachable",
            "on",
            vec![
                checkout_fails("payment"),
                // Refused by the channel that cannot connect, at checkout.
                Effect::Counter {
                    count: series(
                        "grpc_client_handled_total",
                        &[("grpc_method", "Charge"), ("grpc_code", "Unavailable")],
                    ),
                    traffic: place_order.clone(),
                    quiet_after: 5.0,
                },
            ],
        )
        .hurting(),
        // The storefront's product page is served from its cached listing;
        // checkout asks GetProduct for every line.
        Round::flag(
            "productCatalogFailure",
            "on",
            vec![
                code("catalog", "GetProduct", "Unavailable"),
                checkout_fails("catalog"),
            ],
        )
        .hurting(),
        Round::flag(
            "recommendationCacheFailure",
            "on",
            vec![Effect::Resident { rise: 128.0 * MIB }],
        ),
        Round::flag(
            "emailMemoryLeak",
            "10000x",
            vec![Effect::Resident { rise: 64.0 * MIB }],
        ),
        // Loadgen fetches no pictures: the test does, and one waits 5 s.
        Round::flag("imageSlowLoad", "5sec", vec![Effect::SlowPicture]),
        Round::flag("failedReadinessProbe", "on", vec![Effect::NotReady])
            .recorded(Recorded::Counted("cart's health watch asks, every second")),
        Round::flag("loadGeneratorFloodHomepage", "on", vec![Effect::HomeFlood]).recorded(
            Recorded::Elsewhere("the load generator asks, and exports nothing"),
        ),
        Round::flag(
            "boutique.queue.consumerStall",
            "10sec",
            vec![Effect::EventsHeld],
        )
        .recorded(UNTRACED_EVENTS),
        // The outbox gauge is refreshed every 5 s, too slow for this test;
        // dispatch receiving nothing, then everything, shows the same.
        Round::flag(
            "boutique.queue.publishFailure",
            "100%",
            vec![Effect::EventsHeld],
        )
        .recorded(UNTRACED_EVENTS),
    ];
    // Latency everywhere at once: 100 ms per call harms no shopper.
    let mut latency = Round::new("boutique.latency.* (all)");
    for service in GRPC_SERVICES {
        latency.flags.push((latency_flag(service), "100ms"));
        latency.effects.push(Effect::slow(service, "0.1"));
    }
    rounds.push(latency);
    for (group, variant) in ERROR_GROUPS {
        let mut errors = Round::new(&format!("boutique.errors.{{{}}}", group.join(",")));
        for service in group {
            errors.flags.push((errors_flag(service), variant));
            let calls = series(GRPC_HANDLED, &[("service_name", service)]);
            errors.effects.push(Effect::Counter {
                count: calls.clone().with("grpc_code", "Unavailable"),
                traffic: calls,
                quiet_after: 3.0,
            });
        }
        rounds.push(errors.hurting());
    }
    rounds
}

/// Every flag of the file is switched in exactly one round, to one of its
/// variants; and the file has every flag off.
fn assert_covers_the_file(rounds: &[Round], flags: &FlagSwitch) {
    let in_file = flags.variants();
    let mut switched = BTreeSet::new();
    for (flag, variant) in rounds.iter().flat_map(|r| &r.flags) {
        assert!(switched.insert(flag.clone()), "{flag} is switched twice");
        let variants = in_file
            .get(flag)
            .unwrap_or_else(|| panic!("{flag} is not in the flag file"));
        assert!(
            variants.iter().any(|v| v == variant),
            "{flag} has no variant {variant}: {variants:?}"
        );
    }
    let unchecked: Vec<&String> = in_file.keys().filter(|f| !switched.contains(*f)).collect();
    assert!(unchecked.is_empty(), "flags without a check: {unchecked:?}");
}

// === Effects ===

const MIB: f64 = 1024.0 * 1024.0;

/// What a flag shows while on, and what its recovery looks like.
#[derive(Debug, Clone)]
enum Effect {
    /// `count` rises; switched off, it stays put while `traffic` rises by
    /// `quiet_after`.
    Counter {
        count: Series,
        traffic: Series,
        quiet_after: f64,
    },
    /// Most of the service's calls take longer than `le` seconds; switched
    /// off, few do (its gRPC server's duration histogram).
    Slow {
        service: &'static str,
        le: &'static str,
    },
    /// The storefront's pictures take over 2.5 s (its HTTP duration
    /// histogram); the test fetches them.
    SlowPicture,
    /// The process's resident memory rises by `rise` bytes, and is given
    /// back when the flag is off.
    Resident { rise: f64 },
    /// Cart's readiness name answers NOT_SERVING while its liveness stays
    /// SERVING.
    NotReady,
    /// The home page is nearly all of the storefront's traffic.
    HomeFlood,
    /// Order events stop reaching dispatch while orders are placed; switched
    /// off, every one of them arrives.
    EventsHeld,
    /// Switched off, the reconciler empties every cart a checkout could not.
    CartsEmptiedLater,
}

impl Effect {
    fn slow(service: &'static str, le: &'static str) -> Self {
        Self::Slow { service, le }
    }
}

/// A poll's verdict on one condition.
#[derive(Debug)]
enum Verdict {
    Holds,
    /// Not yet: wait for more (traffic, time).
    Wait(String),
    /// Seen the opposite: the window starts again from this scrape.
    Again(String),
}

use Verdict::{Again, Holds, Wait};

impl Effect {
    /// Whether the effect shows: `start` was scraped before the flags went
    /// on, `window` is where the current window began.
    async fn shown(&self, probe: &Probe, start: &Scrape, window: &Scrape, now: &Scrape) -> Verdict {
        match self {
            Self::Counter { count, .. } => rose(count, start, now),
            Self::Slow { service, le } => {
                // Slowed down, loadgen's shoppers seldom get to check out:
                // the test does, for the services only checkout calls.
                probe.in_background(Background::Order);
                let (calls, slow) = slow_calls(&grpc_latency(service), le, window, now);
                let seen = format!("{service}: {slow} of {calls} calls over {le} s");
                if slow >= 2.0 && slow * 2.0 >= calls {
                    Holds
                } else if calls - slow >= 3.0 {
                    // Served before the flag was read: look from here on.
                    Again(seen)
                } else {
                    Wait(seen)
                }
            }
            Self::SlowPicture => {
                probe.in_background(Background::Picture);
                let (_, slow) = slow_calls(&picture_latency(), "2.5", start, now);
                if slow >= 1.0 {
                    Holds
                } else {
                    Wait("no picture over 2.5 s yet".to_owned())
                }
            }
            Self::Resident { rise } => {
                let grown = now.rss() - start.rss();
                if grown >= *rise {
                    Holds
                } else {
                    Wait(format!("resident memory grew {:.0} MiB", grown / MIB))
                }
            }
            Self::NotReady => match probe.cart_health().await {
                (ServingStatus::NotServing, ServingStatus::Serving) => Holds,
                other => Wait(format!("cart's (readiness, liveness) health: {other:?}")),
            },
            Self::HomeFlood => {
                let (home, all) = home_share(start, now);
                if home >= 200.0 && home >= 0.9 * all {
                    Holds
                } else {
                    Wait(format!("{home} of {all} storefront requests were GET /"))
                }
            }
            Self::EventsHeld => {
                let handled = events().delta(window, now);
                let placed = placed().delta(window, now);
                if handled > 0.0 {
                    Again(format!("dispatch handled {handled} events"))
                } else if placed >= 2.0 {
                    Holds
                } else {
                    Wait(format!("{placed} orders placed while dispatch got nothing"))
                }
            }
            Self::CartsEmptiedLater => Holds,
        }
    }

    /// Whether the shop is over it: `start` was scraped before the flags
    /// went on, `off` when they were seen, `window` where the current
    /// window began.
    async fn gone(
        &self,
        probe: &Probe,
        (start, off): (&Scrape, &Scrape),
        window: &Scrape,
        now: &Scrape,
    ) -> Verdict {
        match self {
            Self::Counter {
                count,
                traffic,
                quiet_after,
            } => quiet(count, traffic, *quiet_after, window, now),
            Self::Slow { service, le } => {
                let (calls, slow) = slow_calls(&grpc_latency(service), le, window, now);
                few_slow(service, calls, slow, 3.0)
            }
            Self::SlowPicture => {
                // A picture the storefront still holds back (it reads the
                // flag file every 100 ms) is given up after a second, so
                // the recovery does not wait out the hold; one served at
                // once is counted at the next scrape.
                probe.fetch_picture(Duration::from_secs(1)).await;
                let (calls, slow) = slow_calls(&picture_latency(), "2.5", window, now);
                few_slow("pictures", calls, slow, 1.0)
            }
            Self::Resident { .. } => {
                let held = now.rss() - start.rss();
                if held <= 32.0 * MIB {
                    Holds
                } else {
                    Wait(format!("{:.0} MiB still held", held / MIB))
                }
            }
            Self::NotReady => match probe.cart_health().await {
                (ServingStatus::Serving, ServingStatus::Serving) => Holds,
                other => Wait(format!("cart's (readiness, liveness) health: {other:?}")),
            },
            Self::HomeFlood => {
                let (home, all) = home_share(window, now);
                if home > all / 2.0 {
                    Again(format!("{home} of {all} storefront requests were GET /"))
                } else if all < QUIET_REQUESTS {
                    Wait(format!("{all} storefront requests"))
                } else {
                    Holds
                }
            }
            Self::EventsHeld => {
                let (got, owed) = (placed_seen().of(now), placed().of(off));
                if got >= owed {
                    Holds
                } else {
                    Wait(format!("dispatch got {got} of the {owed} orders placed"))
                }
            }
            Self::CartsEmptiedLater => {
                let emptied = series(
                    "boutique_reconciler_actions_total",
                    &[("action", "cart_emptied")],
                )
                .delta(start, now);
                let left = series("boutique_checkout_failures_total", &[("stage", "cart")])
                    .delta(start, now);
                if emptied >= left {
                    Holds
                } else {
                    Wait(format!("the reconciler emptied {emptied} of {left} carts"))
                }
            }
        }
    }
}

fn rose(count: &Series, from: &Scrape, now: &Scrape) -> Verdict {
    if count.delta(from, now) >= 1.0 {
        Holds
    } else {
        Wait(format!("{count} did not rise"))
    }
}

fn quiet(count: &Series, traffic: &Series, needed: f64, window: &Scrape, now: &Scrape) -> Verdict {
    let (rose, passed) = (count.delta(window, now), traffic.delta(window, now));
    if rose > 0.0 {
        Again(format!("{count} rose by {rose}"))
    } else if passed < needed {
        Wait(format!("{traffic} rose by {passed} of {needed}"))
    } else {
        Holds
    }
}

/// At most one slow call in five, over at least `needed` calls.
fn few_slow(what: &str, calls: f64, slow: f64, needed: f64) -> Verdict {
    if slow * 5.0 > calls {
        Again(format!("{what}: {slow} of {calls} calls slow"))
    } else if calls < needed {
        Wait(format!("{what}: {calls} of {needed} calls"))
    } else {
        Holds
    }
}

/// A gRPC service's server-side duration histogram.
fn grpc_latency(service: &str) -> Series {
    series("grpc_server_handling_seconds", &[("service_name", service)])
}

/// The storefront's duration histogram of its product pictures.
fn picture_latency() -> Series {
    series(
        "http_server_request_duration_seconds",
        &[("service_name", "frontend"), ("route", "/static/{*path}")],
    )
}

/// Calls of a duration histogram between two scrapes, and how many of them
/// took longer than `le` seconds (a bucket boundary).
fn slow_calls(histogram: &Series, le: &str, from: &Scrape, now: &Scrape) -> (f64, f64) {
    let count = histogram.suffixed("_count").delta(from, now);
    let within = histogram
        .suffixed("_bucket")
        .with("le", le)
        .delta(from, now);
    (count, count - within)
}

/// The storefront's `GET /` requests and all its requests between two scrapes.
fn home_share(from: &Scrape, now: &Scrape) -> (f64, f64) {
    let all = series(HTTP_REQUESTS, &[("service_name", "frontend")]);
    let home = all.clone().with("route", "/").with("method", "GET");
    (home.delta(from, now), all.delta(from, now))
}

/// Every order event dispatch has handled, whatever it did with it.
fn events() -> Series {
    series("boutique_dispatch_events_total", &[])
}

/// `OrderPlaced` events dispatch has handled (one per order, or more when
/// one is delivered twice).
fn placed_seen() -> Series {
    events().with("type", "OrderPlaced")
}

/// Orders placed, each announced by one `OrderPlaced` event.
fn placed() -> Series {
    series("boutique_orders_transitions_total", &[("to", "created")])
}

// === Switching flags, and waiting ===

/// Waits until every flag of `round` shows its effect, is counted and seen
/// in a span; the scrape where it did.
async fn show(probe: &Probe, round: &Round, start: &Scrape, receiver: &Receiver) -> Scrape {
    let deadline = Instant::now() + PATIENCE;
    let mut window = start.clone();
    loop {
        let now = probe.scrape().await;
        let mut waiting = Vec::new();
        for (flag, variant) in &round.flags {
            if !matches!(round.recorded, Recorded::Elsewhere(_))
                && let Wait(why) | Again(why) = rose(&evaluations(flag, variant), start, &now)
            {
                waiting.push(why);
            }
            if round.recorded == Recorded::CountedAndTraced && !receiver.saw(flag, variant) {
                waiting.push(format!("no span event for {flag}={variant}"));
            }
        }
        let mut again = false;
        for effect in &round.effects {
            match effect.shown(probe, start, &window, &now).await {
                Holds => {}
                Wait(why) => waiting.push(why),
                Again(why) => {
                    again = true;
                    waiting.push(why);
                }
            }
        }
        if waiting.is_empty() {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "{} never showed within {PATIENCE:?}: {}",
            round.name,
            waiting.join("; ")
        );
        if again {
            window = now;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until the shop is over `round` (switched off): a window of traffic
/// where no effect shows, no evaluation of an on variant, no loadgen
/// failure, no stuck order, and every page answering 200. The last scrape.
async fn recover(probe: &Probe, round: &Round, start: &Scrape, off: &Scrape) -> Scrape {
    let deadline = Instant::now() + PATIENCE;
    let mut window = probe.scrape().await;
    loop {
        let now = probe.scrape().await;
        let mut waiting = Vec::new();
        let mut again = Vec::new();
        let mut verdicts = vec![quiet(
            &series("loadgen_requests_total", &[("outcome", "!ok")]),
            &series("loadgen_requests_total", &[]),
            QUIET_REQUESTS,
            &window,
            &now,
        )];
        for (flag, variant) in &round.flags {
            let evaluations = evaluations(flag, variant);
            if evaluations.delta(&window, &now) > 0.0 {
                verdicts.push(Again(format!("{flag} is still evaluated {variant}")));
            }
        }
        for effect in &round.effects {
            verdicts.push(effect.gone(probe, (start, off), &window, &now).await);
        }
        for verdict in verdicts {
            match verdict {
                Holds => {}
                Wait(why) => waiting.push(why),
                Again(why) => again.push(why),
            }
        }
        if waiting.is_empty() && again.is_empty() {
            if let Err(why) = probe.orders_finished().await {
                waiting.push(why);
            } else if let Err(why) = probe.pages_answer().await {
                again.push(why);
            } else {
                return now;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the shop never recovered from {} within {PATIENCE:?}: {}",
            round.name,
            again
                .iter()
                .chain(&waiting)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        );
        if !again.is_empty() {
            window = now;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The evaluations of `flag` that answered `variant`, in every service.
fn evaluations(flag: &str, variant: &str) -> Series {
    series(
        "boutique_feature_flag_evaluations_total",
        &[("flag", flag), ("variant", variant)],
    )
}

/// A copy of the repository's flag file, rewritten to switch flags.
#[derive(Debug)]
struct FlagSwitch {
    dir: tempfile::TempDir,
    original: Json,
}

impl FlagSwitch {
    fn copy_of_repository_file() -> Self {
        let text = std::fs::read_to_string(FLAG_FILE).unwrap();
        let switch = Self {
            dir: tempfile::tempdir().unwrap(),
            original: serde_json::from_str(&text).unwrap(),
        };
        for (flag, definition) in switch.original["flags"].as_object().unwrap() {
            assert_eq!(
                definition["defaultVariant"], "off",
                "{flag} is on in the file"
            );
        }
        switch.switch(&[]);
        switch
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("boutique.flagd.json")
    }

    /// Each flag and its variants.
    fn variants(&self) -> BTreeMap<String, Vec<String>> {
        self.original["flags"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(flag, definition)| {
                let variants = definition["variants"].as_object().unwrap();
                (flag.clone(), variants.keys().cloned().collect())
            })
            .collect()
    }

    /// The file with exactly `on` switched on, written aside and renamed
    /// over, as editors and Kubernetes do.
    fn switch(&self, on: &[(String, &str)]) {
        let mut file = self.original.clone();
        for (flag, variant) in on {
            file["flags"][flag]["defaultVariant"] = Json::from(*variant);
        }
        let aside = self.dir.path().join("boutique.flagd.json.tmp");
        std::fs::write(&aside, file.to_string()).unwrap();
        std::fs::rename(&aside, self.path()).unwrap();
    }
}

// === Looking at the shop ===

/// What the test looks at the shop with.
#[derive(Debug)]
struct Probe {
    http: reqwest::Client,
    /// A shopper with something in the cart.
    shopper: reqwest::Client,
    shop_url: String,
    metrics_url: String,
    loadgen_url: String,
    /// The cart service, `http://host:port`.
    cart: String,
    book: OrderBook,
    /// Work started in the background, each kind once at a time.
    background: Mutex<HashMap<Background, JoinHandle<()>>>,
}

/// What the probe does in the background.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Background {
    Picture,
    Order,
}

impl Probe {
    /// The shop's and loadgen's metrics, together.
    async fn scrape(&self) -> Scrape {
        let mut text = String::new();
        for url in [&self.metrics_url, &self.loadgen_url] {
            let response = self.http.get(url).send().await.unwrap();
            assert_eq!(response.status(), 200, "GET {url}");
            text.push_str(&response.text().await.unwrap());
            text.push('\n');
        }
        Scrape::parse(&text)
    }

    /// Starts `work` unless the same work is still running. A picture: the
    /// flag holds back the one that starts after the storefront read it. An
    /// order: a cart line and a checkout, whatever their outcome.
    fn in_background(&self, work: Background) {
        let mut running = self.background.lock().unwrap();
        if running.get(&work).is_some_and(|task| !task.is_finished()) {
            return;
        }
        let (client, url) = (self.shopper.clone(), self.shop_url.clone());
        let task = match work {
            // Whatever the answer: the storefront's histogram is what counts.
            Background::Picture => tokio::spawn(async move {
                let _ = client.get(format!("{url}{PICTURE}")).send().await;
            }),
            Background::Order => tokio::spawn(async move {
                let cart = format!("{url}/cart");
                let line = [("product_id", PRODUCT), ("quantity", "1")];
                let _ = client.post(&cart).form(&line).send().await;
                let _ = try_checkout_at(&url, &client, CARD, "2039", &[]).await;
            }),
        };
        running.insert(work, task);
    }

    /// Fetches a picture, giving up after `patience`.
    async fn fetch_picture(&self, patience: Duration) {
        let url = format!("{}{PICTURE}", self.shop_url);
        if let Ok(response) = self.http.get(&url).timeout(patience).send().await {
            assert_eq!(response.status(), 200, "GET {url}");
        }
    }

    /// Cart's health for its readiness name and for liveness.
    async fn cart_health(&self) -> (ServingStatus, ServingStatus) {
        let channel = tonic::transport::Endpoint::from_shared(self.cart.clone())
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut client = HealthClient::new(channel);
        let mut status = Vec::new();
        for service in ["hipstershop.CartService", "liveness"] {
            let request = HealthCheckRequest {
                service: service.to_owned(),
            };
            let answer = client.check(request).await.unwrap().into_inner();
            status.push(ServingStatus::try_from(answer.status).unwrap());
        }
        (status[0], status[1])
    }

    /// No order unfinished, so none holds its cart (a shopper's next
    /// checkout would be refused): what the reconciler must finish after a
    /// fault is done, and no order is in flight at this moment.
    async fn orders_finished(&self) -> Result<(), String> {
        let stuck = self.book.stuck(0).await.unwrap();
        if stuck.iter().all(|(_, n)| *n == 0) {
            Ok(())
        } else {
            Err(format!("stuck orders: {stuck:?}"))
        }
    }

    /// The shopper's pages and a picture answer 200 (with an item in the
    /// cart, which a fault may have cost).
    async fn pages_answer(&self) -> Result<(), String> {
        let added = self
            .shopper
            .post(format!("{}/cart", self.shop_url))
            .form(&[("product_id", PRODUCT), ("quantity", "1")])
            .send()
            .await
            .map_err(|e| format!("add to cart: {e}"))?;
        if !added.status().is_success() {
            return Err(format!("add to cart: {}", added.status()));
        }
        for page in PAGES.into_iter().chain([PICTURE]) {
            let response = self
                .shopper
                .get(format!("{}{page}", self.shop_url))
                .send()
                .await
                .map_err(|e| format!("{page}: {e}"))?;
            if response.status() != reqwest::StatusCode::OK {
                return Err(format!("{page}: {}", response.status()));
            }
        }
        Ok(())
    }
}

/// Samples of one scrape: name, labels, value.
#[derive(Debug, Clone, Default)]
struct Scrape(Vec<(String, BTreeMap<String, String>, f64)>);

impl Scrape {
    /// A Prometheus text exposition; comments and blank lines skipped.
    fn parse(text: &str) -> Self {
        let samples = text
            .lines()
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(|line| {
                let (series, value) = line.rsplit_once(' ').unwrap();
                let value: f64 = value.parse().unwrap();
                let (name, labels) = match series.split_once('{') {
                    Some((name, labels)) => (
                        name,
                        parse_labels(labels.strip_suffix('}').unwrap_or(labels)),
                    ),
                    None => (series, BTreeMap::new()),
                };
                (name.to_owned(), labels, value)
            })
            .collect();
        Self(samples)
    }

    fn rss(&self) -> f64 {
        series("process_resident_memory_bytes", &[]).of(self)
    }

    fn loadgen_failures(&self) -> f64 {
        series("loadgen_requests_total", &[("outcome", "!ok")]).of(self)
    }
}

/// `a="1",b="x\"y"` as a map, unescaping `\\`, `\"` and `\n`.
fn parse_labels(text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while let Some((name, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next().expect("a closed label value") {
                (_, '\\') => match chars.next().expect("an escape").1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                (at, '"') => break at,
                (_, c) => value.push(c),
            }
        };
        labels.insert(name.trim_start_matches(',').to_owned(), value);
        rest = &after[end + 1..];
    }
    labels
}

/// The sum of every sample of `name` whose labels include `labels` (a value
/// `!x` matches any value but `x`).
#[derive(Debug, Clone)]
struct Series {
    name: String,
    labels: Vec<(&'static str, String)>,
}

fn series(name: &str, labels: &[(&'static str, &str)]) -> Series {
    Series {
        name: name.to_owned(),
        labels: labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
    }
}

impl Series {
    fn with(mut self, label: &'static str, value: &str) -> Self {
        self.labels.push((label, value.to_owned()));
        self
    }

    fn suffixed(&self, suffix: &str) -> Self {
        Self {
            name: format!("{}{suffix}", self.name),
            labels: self.labels.clone(),
        }
    }

    fn of(&self, scrape: &Scrape) -> f64 {
        let matches = |labels: &BTreeMap<String, String>| {
            self.labels.iter().all(|(k, v)| {
                let value = labels.get(*k).map_or("", String::as_str);
                match v.strip_prefix('!') {
                    Some(not) => value != not,
                    None => value == v,
                }
            })
        };
        scrape
            .0
            .iter()
            .filter(|(name, labels, _)| *name == self.name && matches(labels))
            .map(|(_, _, value)| value)
            .sum()
    }

    fn delta(&self, from: &Scrape, to: &Scrape) -> f64 {
        self.of(to) - self.of(from)
    }
}

impl std::fmt::Display for Series {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let labels: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        write!(f, "{}{{{}}}", self.name, labels.join(","))
    }
}

// === The processes ===

/// A child process killed when dropped, so a failing test leaves none behind.
#[derive(Debug)]
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `boutique all` on ephemeral loopback ports, with every backend's
/// address (from its "Started." log line: the readiness probe needs cart's).
#[derive(Debug)]
struct Shop {
    process: Reaped,
    url: String,
    metrics_url: String,
    backends: HashMap<String, String>,
}

impl Shop {
    fn start(data: &Path, env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(BOUTIQUE)
            .args(["all", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"])
            .arg("--data")
            .arg(data)
            .envs(env.iter().copied())
            .env("LOG_FORMAT", "json")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let process = Reaped(child);
        let (tx, lines) = std::sync::mpsc::channel();
        // Read to the end, so the shop never blocks on a full pipe; lines
        // after "ready" go nowhere.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut backends = HashMap::new();
        let ready: Json = loop {
            let line = lines
                .recv_timeout(Duration::from_secs(30))
                .expect("boutique all logs that it is ready");
            let Ok(json) = serde_json::from_str::<Json>(&line) else {
                continue;
            };
            match json["message"].as_str() {
                Some("Started.") => {
                    let field = |name: &str| json[name].as_str().unwrap().to_owned();
                    backends.insert(field("service"), field("addr"));
                }
                Some("Boutique is ready.") => break json,
                _ => {}
            }
        };
        let field = |name: &str| {
            ready[name]
                .as_str()
                .unwrap()
                .trim_end_matches('/')
                .to_owned()
        };
        Self {
            url: field("url"),
            metrics_url: field("metrics"),
            process,
            backends,
        }
    }

    /// Ctrl-C, then the exit status.
    fn interrupt(mut self) -> std::process::ExitStatus {
        interrupt(&mut self.process.0)
    }
}

/// `boutique loadgen` shopping in the background, its admin port's metrics
/// read as it runs.
#[derive(Debug)]
struct Loadgen {
    process: Reaped,
    metrics_url: String,
    /// Everything it writes on stdout (its report, at the end).
    stdout: Option<std::thread::JoinHandle<String>>,
}

impl Loadgen {
    fn start(target: &str, env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(BOUTIQUE)
            .args(["loadgen", "--target", target, "--users", "4"])
            .args(["--spawn-rate", "100", "--think-time", "5ms..50ms"])
            .args(["--quiet", "--report", "json", "--seed", "14"])
            // Bounded, should the test be stopped without its guard running.
            .args(["--duration", "5m", "--timeout", "20s"])
            .args(["--admin-port", "0", "--listen-addr", "127.0.0.1"])
            .envs(env.iter().copied())
            // Its flag reloads are logged at info, on stdout with the report.
            .env("LOG_LEVEL", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let stdout = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stdout.read_to_string(&mut text);
            text
        });
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let process = Reaped(child);
        // Its first line names the admin port; the rest is read (and
        // dropped) so that a write to stderr never fails.
        let mut first = String::new();
        stderr.read_line(&mut first).unwrap();
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        let addr = first
            .trim()
            .rsplit_once(" on ")
            .unwrap_or_else(|| panic!("no admin address in {first:?}"))
            .1;
        Self {
            process,
            metrics_url: format!("http://{addr}/metrics"),
            stdout: Some(stdout),
        }
    }

    /// Ctrl-C; its JSON report.
    fn stop(&mut self) -> Json {
        let status = interrupt(&mut self.process.0);
        let stdout = self.stdout.take().unwrap().join().unwrap();
        // Exit status 1 means failures, which the rounds accounted for.
        assert!(matches!(status.code(), Some(0 | 1)), "{status}: {stdout}");
        // The report is the last document, pretty-printed after any log line.
        let report = stdout
            .rfind("\n{\n")
            .map_or(stdout.as_str(), |at| &stdout[at + 1..]);
        serde_json::from_str(report).unwrap_or_else(|e| panic!("{e}: {stdout}"))
    }
}

// === The OTLP receiver ===

/// The collector's trace service, keeping every flag evaluation event it
/// receives, by flag and variant.
#[derive(Debug, Clone, Default)]
struct Receiver {
    seen: Arc<Mutex<BTreeSet<(String, String)>>>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let events = request
            .into_inner()
            .resource_spans
            .into_iter()
            .flat_map(|r| r.scope_spans)
            .flat_map(|s| s.spans)
            .flat_map(|span| span.events)
            .filter(|event| event.name == "feature_flag.evaluation");
        let mut seen = self.seen.lock().unwrap();
        for event in events {
            let attribute = |key: &str| text(&event.attributes, key);
            seen.insert((
                attribute("feature_flag.key"),
                attribute("feature_flag.result.variant"),
            ));
        }
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

impl Receiver {
    async fn start(self) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(self))
                .serve_with_incoming(TcpIncoming::from(listener)),
        );
        addr
    }

    fn saw(&self, flag: &str, variant: &str) -> bool {
        self.seen
            .lock()
            .unwrap()
            .contains(&(flag.to_owned(), variant.to_owned()))
    }
}

/// A string attribute's value, or "".
fn text(attributes: &[KeyValue], key: &str) -> String {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
        .map(|value| match value {
            Value::StringValue(s) => s.clone(),
            other => format!("{other:?}"),
        })
        .unwrap_or_default()
}
