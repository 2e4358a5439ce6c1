//! The Prometheus metrics every service exposes, and the helpers a service
//! registers its own with.
//!
//! One [`Metrics`] registry serves a whole process: run alone, that is one
//! service; under `boutique all` it is the whole shop behind one admin port.
//! So every service series carries a `service_name` label (the OTel resource
//! attribute's Prometheus name; a plain `service` label would clash with the
//! one the Prometheus operator adds to every target). Process metrics describe
//! the process and carry none.
//!
//! The families defined here are the ones every service shares: the RED
//! metrics of gRPC and HTTP calls and `boutique_build_info`. A service's own
//! (business) families live in the service, which registers them through its
//! [`ServiceMetrics`] ([`ServiceMetrics::counter`], [`ServiceMetrics::sum`]):
//! the `service_name` label is added and filled in here, and `ENABLE_METRICS=0`
//! silences them like the rest.
//!
//! Label values are bounded by construction: gRPC service and method names
//! come from our own protos (anything unknown is counted as `unknown`), routes
//! from the frontend's route table, and a service's own labels from closed
//! sets of its own (enums) or values it validated (currency codes the
//! currency service accepted).

use std::{
    any::Any,
    collections::HashMap,
    fmt,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use prometheus::{
    CounterVec, Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts,
    Registry, TextEncoder, core::Collector,
};

/// Latency buckets in seconds, from 100 µs: most of our calls finish in well
/// under a millisecond, so the default buckets (from 5 ms) would put them all
/// in the first one.
pub const LATENCY_BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// The content type of [`Metrics::render`].
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A process's registry: the shared families, and those services registered.
pub struct Metrics {
    registry: Registry,
    grpc_server_handled: IntCounterVec,
    grpc_server_seconds: HistogramVec,
    grpc_client_handled: IntCounterVec,
    grpc_client_seconds: HistogramVec,
    http_requests: IntCounterVec,
    http_seconds: HistogramVec,
    build_info: IntGaugeVec,
    /// The families services registered, by name, so a second instance of a
    /// service (two in one test process, say) records into the same one.
    families: Mutex<HashMap<String, Box<dyn Any + Send + Sync>>>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// A fresh registry with every family and, on Linux, the process collector.
    pub fn new() -> Arc<Self> {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            register(&registry, IntCounterVec::new(Opts::new(name, help), labels))
        };
        let histogram = |name: &str, help: &str, labels: &[&str]| {
            let opts = HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec());
            register(&registry, HistogramVec::new(opts, labels))
        };
        const GRPC: [&str; 4] = ["service_name", "grpc_service", "grpc_method", "grpc_code"];
        const GRPC_TIMED: [&str; 3] = ["service_name", "grpc_service", "grpc_method"];
        let metrics = Self {
            grpc_server_handled: counter(
                "grpc_server_handled_total",
                "gRPC calls answered by this service, by method and status code.",
                &GRPC,
            ),
            grpc_server_seconds: histogram(
                "grpc_server_handling_seconds",
                "Time from receiving a gRPC call to sending its response headers.",
                &GRPC_TIMED,
            ),
            grpc_client_handled: counter(
                "grpc_client_handled_total",
                "gRPC calls this service made to others, by method and status code.",
                &GRPC,
            ),
            grpc_client_seconds: histogram(
                "grpc_client_handling_seconds",
                "Time from sending a gRPC call to receiving its response headers.",
                &GRPC_TIMED,
            ),
            http_requests: counter(
                "http_server_requests_total",
                "HTTP requests answered, by route template and status code.",
                &["service_name", "method", "route", "status"],
            ),
            http_seconds: histogram(
                "http_server_request_duration_seconds",
                "Time from receiving an HTTP request to sending its response headers.",
                &["service_name", "method", "route"],
            ),
            build_info: register(
                &registry,
                IntGaugeVec::new(
                    Opts::new(
                        "boutique_build_info",
                        "Always 1: the running version and commit.",
                    ),
                    &["service_name", "version", "commit"],
                ),
            ),
            families: Mutex::new(HashMap::new()),
            registry,
        };
        #[cfg(target_os = "linux")]
        metrics
            .registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .expect("the process collector is registered once");
        Arc::new(metrics)
    }

    /// The registry, for families a process defines for itself (the load
    /// generator's), so the admin port serves them with the rest.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The exposition in the Prometheus text format ([`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        // Encoding into memory fails only on a malformed family, which the
        // static definitions above rule out; an empty page is the safe answer.
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            tracing::error!(error = %error, "Cannot encode the metrics.");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }

    /// The family `name`, registered by `define` the first time it is asked
    /// for. Asking again with a different kind, help text or labels is a bug
    /// in the definitions, caught by the first test that builds both.
    fn service_family<F>(&self, define: prometheus::Result<F>) -> F
    where
        F: Collector + Clone + Send + Sync + 'static,
    {
        let define = define.expect("metric definitions are static and valid");
        let desc = define.desc()[0].clone();
        let mut families = self.families.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(existing) = families.get(&desc.fq_name) {
            let existing = existing.downcast_ref::<F>().filter(|existing| {
                let known = existing.desc()[0];
                known.help == desc.help && known.variable_labels == desc.variable_labels
            });
            return existing
                .unwrap_or_else(|| panic!("metric {} is defined twice, differently", desc.fq_name))
                .clone();
        }
        let family = register(&self.registry, Ok(define));
        families.insert(desc.fq_name, Box::new(family.clone()));
        family
    }
}

/// Registers a family defined in [`Metrics::new`] or by a service. The
/// definitions are static and each is registered once, so neither step can
/// fail at run time.
fn register<F: Collector + Clone + 'static>(
    registry: &Registry,
    family: prometheus::Result<F>,
) -> F {
    let family = family.expect("metric definitions are static and valid");
    registry
        .register(Box::new(family.clone()))
        .expect("each metric is registered once");
    family
}

/// The metrics of one service: the process's families with its `service_name`.
#[derive(Clone)]
pub struct ServiceMetrics {
    service: &'static str,
    metrics: Arc<Metrics>,
    /// Off only when `ENABLE_METRICS=0`: then nothing below records.
    recording: bool,
}

impl fmt::Debug for ServiceMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceMetrics")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl ServiceMetrics {
    /// `service`'s view of `metrics`, announcing its build in `boutique_build_info`.
    pub fn new(service: &'static str, metrics: Arc<Metrics>, version: &str, commit: &str) -> Self {
        metrics
            .build_info
            .with_label_values(&[service, version, commit])
            .set(1);
        Self {
            service,
            metrics,
            recording: true,
        }
    }

    /// Whether calls and the service's own events are recorded.
    #[must_use]
    pub fn recording(mut self, recording: bool) -> Self {
        self.recording = recording;
        self
    }

    /// The whole registry this service records into.
    pub fn registry(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// A gRPC call this service answered.
    pub fn grpc_served(&self, method: &GrpcMethod, code: &str, elapsed: Duration) {
        if !self.recording {
            return;
        }
        // A client can send any path; only methods we serve become label values.
        let (service, name) = if code == "Unimplemented" {
            ("unknown", "unknown")
        } else {
            method.labels()
        };
        self.metrics
            .grpc_server_handled
            .with_label_values(&[self.service, service, name, code])
            .inc();
        self.metrics
            .grpc_server_seconds
            .with_label_values(&[self.service, service, name])
            .observe(elapsed.as_secs_f64());
    }

    /// A gRPC call this service made.
    pub fn grpc_called(&self, method: &GrpcMethod, code: &str, elapsed: Duration) {
        if !self.recording {
            return;
        }
        let (service, name) = method.labels();
        self.metrics
            .grpc_client_handled
            .with_label_values(&[self.service, service, name, code])
            .inc();
        self.metrics
            .grpc_client_seconds
            .with_label_values(&[self.service, service, name])
            .observe(elapsed.as_secs_f64());
    }

    /// An HTTP request this service answered; `route` is a route template.
    pub fn http_served(
        &self,
        method: &str,
        route: &str,
        status: http::StatusCode,
        elapsed: Duration,
    ) {
        if !self.recording {
            return;
        }
        self.metrics
            .http_requests
            .with_label_values(&[self.service, method, route, status.as_str()])
            .inc();
        self.metrics
            .http_seconds
            .with_label_values(&[self.service, method, route])
            .observe(elapsed.as_secs_f64());
    }

    /// This service's counter family `name`, labelled `service_name` and then
    /// `labels` (registered on first use; another instance of the service gets
    /// the same family).
    pub fn counter(&self, name: &str, help: &str, labels: &[&str]) -> Counter {
        let family =
            IntCounterVec::new(Opts::new(name, help), &with_service("service_name", labels));
        Counter {
            family: self.metrics.service_family(family),
            service: self.service,
            recording: self.recording,
        }
    }

    /// This service's gauge family `name` (a level that goes up and down: a
    /// backlog, a queue depth), labelled like [`ServiceMetrics::counter`].
    pub fn gauge(&self, name: &str, help: &str, labels: &[&str]) -> Gauge {
        let family = GaugeVec::new(Opts::new(name, help), &with_service("service_name", labels));
        Gauge {
            family: self.metrics.service_family(family),
            service: self.service,
            recording: self.recording,
        }
    }

    /// This service's family `name` of running totals of non-negative
    /// amounts (revenue, say), labelled like [`ServiceMetrics::counter`].
    pub fn sum(&self, name: &str, help: &str, labels: &[&str]) -> Sum {
        let family = CounterVec::new(Opts::new(name, help), &with_service("service_name", labels));
        Sum {
            family: self.metrics.service_family(family),
            service: self.service,
            recording: self.recording,
        }
    }
}

/// `first` followed by `rest`: `service_name` before a family's own label
/// names, or the service before the values of those labels.
fn with_service<'a>(first: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut all = Vec::with_capacity(rest.len() + 1);
    all.push(first);
    all.extend_from_slice(rest);
    all
}

/// A counter family of one service ([`ServiceMetrics::counter`]). Label
/// values are given without `service_name`, in the order of the labels.
#[derive(Clone)]
pub struct Counter {
    family: IntCounterVec,
    service: &'static str,
    recording: bool,
}

impl fmt::Debug for Counter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Counter")
            .field("name", &self.family.desc()[0].fq_name)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl Counter {
    /// Counts one event with these label values.
    pub fn inc(&self, values: &[&str]) {
        if self.recording {
            self.family
                .with_label_values(&with_service(self.service, values))
                .inc();
        }
    }

    /// Creates the series with these label values at zero (even with
    /// recording off), so dashboards and alerts see "none yet" rather than
    /// "no data" (rates over absent series are empty).
    pub fn start_at_zero(&self, values: &[&str]) {
        self.family
            .with_label_values(&with_service(self.service, values));
    }
}

/// A gauge family of one service ([`ServiceMetrics::gauge`]).
#[derive(Clone)]
pub struct Gauge {
    family: GaugeVec,
    service: &'static str,
    recording: bool,
}

impl fmt::Debug for Gauge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gauge")
            .field("name", &self.family.desc()[0].fq_name)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl Gauge {
    /// Sets the level with these label values.
    pub fn set(&self, values: &[&str], level: f64) {
        if self.recording {
            self.family
                .with_label_values(&with_service(self.service, values))
                .set(level);
        }
    }
}

/// A family of running totals of one service ([`ServiceMetrics::sum`]).
#[derive(Clone)]
pub struct Sum {
    family: CounterVec,
    service: &'static str,
    recording: bool,
}

impl fmt::Debug for Sum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sum")
            .field("name", &self.family.desc()[0].fq_name)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl Sum {
    /// Adds `amount` to the total with these label values; an amount that is
    /// negative or not finite is left out (a counter only goes up).
    pub fn add(&self, values: &[&str], amount: f64) {
        if self.recording && amount.is_finite() && amount >= 0.0 {
            self.family
                .with_label_values(&with_service(self.service, values))
                .inc_by(amount);
        }
    }
}

/// A gRPC method from a request path (`/hipstershop.CartService/AddItem`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrpcMethod {
    path: String,
    split: Option<usize>,
}

impl GrpcMethod {
    /// Splits `/package.Service/Method`; anything else is kept for the span
    /// name but labelled `unknown`.
    pub fn from_path(path: &str) -> Self {
        let split = path
            .strip_prefix('/')
            .and_then(|rest| rest.find('/'))
            .map(|at| at + 1)
            .filter(|&at| at > 1 && at + 1 < path.len() && !path[at + 1..].contains('/'));
        Self {
            path: path.to_owned(),
            split,
        }
    }

    /// `package.Service`.
    pub fn service(&self) -> &str {
        self.split.map_or("unknown", |at| &self.path[1..at])
    }

    /// `Method`.
    pub fn method(&self) -> &str {
        self.split.map_or("unknown", |at| &self.path[at + 1..])
    }

    /// The span name: `package.Service/Method`.
    pub fn span_name(&self) -> &str {
        self.path.strip_prefix('/').unwrap_or(&self.path)
    }

    /// Whether this is the health or reflection protocol, which probes call
    /// constantly: counted, but not traced.
    pub fn is_infrastructure(&self) -> bool {
        let service = self.service();
        service.starts_with("grpc.health.") || service.starts_with("grpc.reflection.")
    }

    fn labels(&self) -> (&str, &str) {
        (self.service(), self.method())
    }
}
