//! Per-route counters and HDR latency histograms, and the final report.
//!
//! Workers send one `Sample` per finished request over a channel to a single
//! collector, so the histograms need no locks and exist once per route rather
//! than once per simulated user (an HDR histogram is a few hundred KiB).

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// A request the shopper makes, named as Locust names it (product pages grouped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Route {
    /// `GET /`
    Home,
    /// `POST /setCurrency`
    SetCurrency,
    /// `GET /product/{id}`
    Product,
    /// `POST /cart`
    AddToCart,
    /// `GET /cart`
    ViewCart,
    /// `POST /cart/checkout`
    Checkout,
    /// `GET` of a fixed path (`--page`): its own row, named by the path.
    Page {
        /// Its place among the `--page` paths, so rows keep that order.
        index: u32,
        /// The path.
        path: &'static str,
    },
}

impl Route {
    /// Every route of the shopper's task mix, in report order (`--page`
    /// rows follow them).
    pub const ALL: [Route; 6] = [
        Route::Home,
        Route::SetCurrency,
        Route::Product,
        Route::AddToCart,
        Route::ViewCart,
        Route::Checkout,
    ];

    /// `GET` or `POST`.
    pub fn method(self) -> &'static str {
        match self {
            Route::Home | Route::Product | Route::ViewCart | Route::Page { .. } => "GET",
            Route::SetCurrency | Route::AddToCart | Route::Checkout => "POST",
        }
    }

    /// The path, with product ids grouped as `{id}`.
    pub fn name(self) -> &'static str {
        match self {
            Route::Home => "/",
            Route::SetCurrency => "/setCurrency",
            Route::Product => "/product/{id}",
            Route::AddToCart | Route::ViewCart => "/cart",
            Route::Checkout => "/cart/checkout",
            Route::Page { path, .. } => path,
        }
    }
}

/// One finished request.
#[derive(Debug)]
pub(crate) struct Sample {
    pub(crate) route: Route,
    /// From the intended send time (open loop) or the actual one (closed loop)
    /// to the end of the final response body.
    pub(crate) latency: Duration,
    /// How it ended; [`Outcome::Ok`] exactly when `failure` is `None`.
    pub(crate) outcome: Outcome,
    /// `None` on success, else why it failed.
    pub(crate) failure: Option<String>,
}

/// How a request ended, as a closed set (the metrics' `outcome` label; the
/// report keeps the full reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A 2xx or 3xx final status.
    Ok,
    /// Any other final status, or a redirect loop.
    HttpError,
    /// No complete response within `--timeout`.
    Timeout,
    /// Connecting, sending or reading the body failed.
    ConnectionError,
}

impl Outcome {
    /// Every outcome.
    pub(crate) const ALL: [Self; 4] = [
        Self::Ok,
        Self::HttpError,
        Self::Timeout,
        Self::ConnectionError,
    ];

    /// The label value.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::HttpError => "http_error",
            Self::Timeout => "timeout",
            Self::ConnectionError => "connection_error",
        }
    }
}

/// Largest latency the histograms track exactly; longer ones are clamped.
const MAX_TRACKED_MICROS: u64 = 3_600_000_000;

/// Counters for one route (or all of them).
#[derive(Debug)]
struct Tally {
    requests: u64,
    failures: BTreeMap<String, u64>,
    histogram: Histogram<u64>,
}

impl Tally {
    fn new(histogram: Histogram<u64>) -> Self {
        Self {
            requests: 0,
            failures: BTreeMap::new(),
            histogram,
        }
    }

    fn record(&mut self, latency: Duration, failure: Option<&str>) {
        self.requests += 1;
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.histogram
            .saturating_record(micros.clamp(1, MAX_TRACKED_MICROS));
        if let Some(reason) = failure {
            *self.failures.entry(reason.to_owned()).or_default() += 1;
        }
    }

    fn stats(&self, method: &str, name: &str, elapsed: Duration) -> RouteStats {
        let failures = self.failures.values().sum();
        let ms = |micros: u64| micros as f64 / 1000.0;
        let latency_ms = if self.requests == 0 {
            Latency::default()
        } else {
            Latency {
                p50: ms(self.histogram.value_at_quantile(0.50)),
                p90: ms(self.histogram.value_at_quantile(0.90)),
                p99: ms(self.histogram.value_at_quantile(0.99)),
                max: ms(self.histogram.max()),
                mean: self.histogram.mean() / 1000.0,
            }
        };
        RouteStats {
            method: method.to_owned(),
            name: name.to_owned(),
            requests: self.requests,
            failures,
            failure_reasons: self.failures.clone(),
            req_per_s: per_second(self.requests, elapsed),
            latency_ms,
        }
    }
}

fn per_second(count: u64, elapsed: Duration) -> f64 {
    let seconds = elapsed.as_secs_f64();
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

/// Everything recorded so far.
#[derive(Debug)]
pub(crate) struct Stats {
    /// An empty histogram with the bounds every route uses, cloned per route.
    empty: Histogram<u64>,
    routes: BTreeMap<Route, Tally>,
    requests: u64,
    failures: u64,
}

impl Stats {
    /// Fails only if hdrhistogram rejects the constant bounds (1 µs to 1 h,
    /// 3 significant digits).
    pub(crate) fn new() -> Result<Self, hdrhistogram::CreationError> {
        Ok(Self {
            empty: Histogram::new_with_bounds(1, MAX_TRACKED_MICROS, 3)?,
            routes: BTreeMap::new(),
            requests: 0,
            failures: 0,
        })
    }

    pub(crate) fn record(&mut self, sample: &Sample) {
        self.requests += 1;
        self.failures += u64::from(sample.failure.is_some());
        self.routes
            .entry(sample.route)
            .or_insert_with(|| Tally::new(self.empty.clone()))
            .record(sample.latency, sample.failure.as_deref());
    }

    pub(crate) fn requests(&self) -> u64 {
        self.requests
    }

    pub(crate) fn failures(&self) -> u64 {
        self.failures
    }

    pub(crate) fn report(&self, run: RunInfo) -> Report {
        let mut aggregate = Tally::new(self.empty.clone());
        let mut routes = Vec::with_capacity(self.routes.len());
        for (route, tally) in &self.routes {
            routes.push(tally.stats(route.method(), route.name(), run.elapsed));
            aggregate.requests += tally.requests;
            for (reason, count) in &tally.failures {
                *aggregate.failures.entry(reason.clone()).or_default() += count;
            }
            // Same bounds on both sides, so adding cannot fail; if it somehow
            // did, the aggregate percentiles would only miss that route.
            let _ = aggregate.histogram.add(&tally.histogram);
        }
        let aggregate = aggregate.stats("", "Aggregated", run.elapsed);
        let failure_ratio = if aggregate.requests == 0 {
            0.0
        } else {
            aggregate.failures as f64 / aggregate.requests as f64
        };
        let passed = aggregate.requests > 0 && failure_ratio <= run.max_failure_ratio;
        Report {
            target: run.target,
            mode: run.mode,
            users: run.users,
            elapsed_s: run.elapsed.as_secs_f64(),
            requests: aggregate.requests,
            failures: aggregate.failures,
            failure_ratio,
            max_failure_ratio: run.max_failure_ratio,
            passed,
            routes,
            aggregate,
        }
    }
}

/// Facts about the run that the report repeats.
#[derive(Debug)]
pub(crate) struct RunInfo {
    pub(crate) target: String,
    pub(crate) mode: String,
    pub(crate) users: u32,
    pub(crate) elapsed: Duration,
    pub(crate) max_failure_ratio: f64,
}

/// Latency percentiles in milliseconds (microsecond resolution).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest request.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
}

/// Figures for one route, or for all of them (`name` = `Aggregated`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteStats {
    /// `GET` or `POST`; empty for the aggregate.
    pub method: String,
    /// The path, product pages grouped as `/product/{id}`.
    pub name: String,
    /// Finished requests, failed ones included.
    pub requests: u64,
    /// Failed requests.
    pub failures: u64,
    /// How many requests failed for each reason, e.g. `HTTP 500 Internal Server Error`.
    pub failure_reasons: BTreeMap<String, u64>,
    /// Requests per second over the whole run.
    pub req_per_s: f64,
    /// Latency of all finished requests, failed ones included (as Locust).
    pub latency_ms: Latency,
}

/// The outcome of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Base URL the shoppers used.
    pub target: String,
    /// `closed` (users with think time) or `open` (constant rate).
    pub mode: String,
    /// Simulated users (connections).
    pub users: u32,
    /// Wall time of the run in seconds.
    pub elapsed_s: f64,
    /// Finished requests.
    pub requests: u64,
    /// Failed requests.
    pub failures: u64,
    /// `failures / requests` (0 when no request finished).
    pub failure_ratio: f64,
    /// The threshold the run was held to.
    pub max_failure_ratio: f64,
    /// At least one request finished and the failure ratio is within the threshold.
    pub passed: bool,
    /// One entry per route that saw requests, in a fixed order.
    pub routes: Vec<RouteStats>,
    /// All routes together.
    pub aggregate: RouteStats,
}

impl Report {
    /// 0 when the run passed, 1 otherwise: the process exit status.
    pub fn exit_status(&self) -> u8 {
        u8::from(!self.passed)
    }

    /// The report as one JSON document.
    pub fn to_json(&self) -> String {
        // Serialising plain numbers, strings and maps cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The report as a table, Locust-style.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<6} {:<16} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "Method", "Name", "Requests", "Fails", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms"
        );
        for row in self.routes.iter().chain(std::iter::once(&self.aggregate)) {
            if row.name == "Aggregated" {
                let _ = writeln!(out, "{}", "-".repeat(96));
            }
            let _ = writeln!(
                out,
                "{:<6} {:<16} {:>10} {:>9} {:>9.1} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
                row.method,
                row.name,
                row.requests,
                row.failures,
                row.req_per_s,
                row.latency_ms.p50,
                row.latency_ms.p90,
                row.latency_ms.p99,
                row.latency_ms.max
            );
        }
        let failing: Vec<_> = self.routes.iter().filter(|r| r.failures > 0).collect();
        if !failing.is_empty() {
            let _ = writeln!(out, "\nFailures:");
            for row in failing {
                for (reason, count) in &row.failure_reasons {
                    let _ = writeln!(out, "{count:>9}  {} {}: {reason}", row.method, row.name);
                }
            }
        }
        let _ = writeln!(
            out,
            "\n{} mode, {} users, {:.1} s against {}: {} requests, {} failures ({:.3}%, allowed {:.3}%): {}",
            self.mode,
            self.users,
            self.elapsed_s,
            self.target,
            self.requests,
            self.failures,
            self.failure_ratio * 100.0,
            self.max_failure_ratio * 100.0,
            if self.passed { "PASS" } else { "FAIL" }
        );
        out
    }
}

/// The once-a-second progress line.
#[derive(Debug)]
pub(crate) struct Progress {
    started: Instant,
    last_at: Instant,
    last_requests: u64,
}

impl Progress {
    pub(crate) fn new(started: Instant) -> Self {
        Self {
            started,
            last_at: started,
            last_requests: 0,
        }
    }

    /// `elapsed 12s  requests 3456  failures 0  current 287.0 req/s`.
    pub(crate) fn line(&mut self, stats: &Stats) -> String {
        let now = Instant::now();
        let current = per_second(
            stats.requests().saturating_sub(self.last_requests),
            now.duration_since(self.last_at),
        );
        self.last_at = now;
        self.last_requests = stats.requests();
        format!(
            "elapsed {}s  requests {}  failures {}  current {current:.1} req/s",
            now.duration_since(self.started).as_secs(),
            stats.requests(),
            stats.failures(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(route: Route, ms: u64, failure: Option<&str>) -> Sample {
        Sample {
            route,
            latency: Duration::from_millis(ms),
            outcome: if failure.is_some() {
                Outcome::HttpError
            } else {
                Outcome::Ok
            },
            failure: failure.map(str::to_owned),
        }
    }

    fn info(max_failure_ratio: f64) -> RunInfo {
        RunInfo {
            target: "http://127.0.0.1:1".to_owned(),
            mode: "closed".to_owned(),
            users: 1,
            elapsed: Duration::from_secs(10),
            max_failure_ratio,
        }
    }

    #[test]
    fn report_counts_per_route_and_reason() {
        let mut stats = Stats::new().unwrap();
        for ms in 1..=100 {
            stats.record(&sample(Route::Product, ms, None));
        }
        stats.record(&sample(
            Route::Checkout,
            5,
            Some("HTTP 500 Internal Server Error"),
        ));
        stats.record(&sample(
            Route::Checkout,
            5,
            Some("HTTP 500 Internal Server Error"),
        ));
        stats.record(&sample(Route::Checkout, 5, Some("timeout")));
        let report = stats.report(info(0.05));
        assert_eq!(report.requests, 103);
        assert_eq!(report.failures, 3);
        assert!(report.passed, "3/103 is under 5%");
        assert!(!stats.report(info(0.01)).passed, "3/103 is over 1%");
        let checkout = report
            .routes
            .iter()
            .find(|r| r.name == "/cart/checkout")
            .unwrap();
        assert_eq!(
            checkout.failure_reasons["HTTP 500 Internal Server Error"],
            2
        );
        assert_eq!(checkout.failure_reasons["timeout"], 1);
        let product = &report.routes[0];
        assert_eq!(product.name, "/product/{id}");
        assert!(
            (product.latency_ms.p50 - 50.0).abs() < 0.1,
            "{:?}",
            product.latency_ms
        );
        assert!(
            (product.latency_ms.p99 - 99.0).abs() < 0.1,
            "{:?}",
            product.latency_ms
        );
        assert!(
            (product.latency_ms.max - 100.0).abs() < 0.1,
            "{:?}",
            product.latency_ms
        );
        assert!((product.req_per_s - 10.0).abs() < 1e-9);
        assert_eq!(
            report.aggregate.failure_reasons["HTTP 500 Internal Server Error"],
            2
        );
        assert!(report.to_text().contains("timeout"));
    }

    #[test]
    fn no_requests_is_not_a_pass() {
        let report = Stats::new().unwrap().report(info(1.0));
        assert!(!report.passed);
        assert_eq!(report.exit_status(), 1);
    }

    #[test]
    fn microsecond_resolution() {
        let mut stats = Stats::new().unwrap();
        stats.record(&Sample {
            route: Route::Home,
            latency: Duration::from_micros(1234),
            outcome: Outcome::Ok,
            failure: None,
        });
        let report = stats.report(info(0.0));
        assert!((report.aggregate.latency_ms.max - 1.234).abs() < 0.002);
        assert_eq!(report.exit_status(), 0);
    }
}
