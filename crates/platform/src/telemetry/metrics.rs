//! The Prometheus metrics every service exposes, defined once.
//!
//! One [`Metrics`] registry serves a whole process: run alone, that is one
//! service; under `boutique all` it is the whole shop behind one admin port.
//! So every service series carries a `service_name` label (the OTel resource
//! attribute's Prometheus name; a plain `service` label would clash with the
//! one the Prometheus operator adds to every target). Process metrics describe
//! the process and carry none.
//!
//! Label values are bounded by construction: gRPC service and method names
//! come from our own protos (anything unknown is counted as `unknown`), routes
//! from the frontend's route table, and business labels from closed sets
//! ([`DeclineReason`], [`CheckoutStage`]) or currency codes the currency
//! service accepted.

use std::{fmt, sync::Arc, time::Duration};

use prometheus::{
    CounterVec, Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder, core::Collector,
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

/// Why a card was declined, as the payment service counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclineReason {
    /// The number is not a card number (checksum, length, brand).
    InvalidCard,
    /// A valid card of a brand we do not take.
    CardTypeNotAccepted,
    /// The card expired.
    CardExpired,
    /// Anything else wrong with the request (amount, CVV, month...).
    InvalidRequest,
}

impl DeclineReason {
    /// Every reason.
    pub const ALL: [Self; 4] = [
        Self::InvalidCard,
        Self::CardTypeNotAccepted,
        Self::CardExpired,
        Self::InvalidRequest,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::InvalidCard => "invalid_card",
            Self::CardTypeNotAccepted => "card_type_not_accepted",
            Self::CardExpired => "card_expired",
            Self::InvalidRequest => "invalid_request",
        }
    }
}

/// The step of PlaceOrder that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckoutStage {
    /// The request itself was invalid.
    Validation,
    /// Reading or emptying the cart.
    Cart,
    /// Looking up products.
    Catalog,
    /// Converting prices.
    Currency,
    /// Quoting shipping.
    Quote,
    /// Charging the card.
    Payment,
    /// Shipping the order.
    Shipping,
    /// Recording the order.
    Store,
}

impl CheckoutStage {
    /// Every stage.
    pub const ALL: [Self; 8] = [
        Self::Validation,
        Self::Cart,
        Self::Catalog,
        Self::Currency,
        Self::Quote,
        Self::Payment,
        Self::Shipping,
        Self::Store,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::Validation => "validation",
            Self::Cart => "cart",
            Self::Catalog => "catalog",
            Self::Currency => "currency",
            Self::Quote => "quote",
            Self::Payment => "payment",
            Self::Shipping => "shipping",
            Self::Store => "store",
        }
    }
}

/// A process's registry and every metric family in it.
pub struct Metrics {
    registry: Registry,
    grpc_server_handled: IntCounterVec,
    grpc_server_seconds: HistogramVec,
    grpc_client_handled: IntCounterVec,
    grpc_client_seconds: HistogramVec,
    http_requests: IntCounterVec,
    http_seconds: HistogramVec,
    orders_placed: IntCounterVec,
    order_revenue: CounterVec,
    payment_declines: IntCounterVec,
    cart_additions: IntCounterVec,
    emails_sent: IntCounterVec,
    emails_failed: IntCounterVec,
    checkout_failures: IntCounterVec,
    build_info: IntGaugeVec,
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
            orders_placed: counter(
                "boutique_orders_placed_total",
                "Orders placed, by the shopper's currency.",
                &["service_name", "currency"],
            ),
            order_revenue: register(
                &registry,
                CounterVec::new(
                    Opts::new(
                        "boutique_order_revenue_total",
                        "Order totals (items and shipping) in units of the shopper's currency.",
                    ),
                    &["service_name", "currency"],
                ),
            ),
            payment_declines: counter(
                "boutique_payment_declines_total",
                "Charges refused, by reason.",
                &["service_name", "reason"],
            ),
            cart_additions: counter(
                "boutique_cart_additions_total",
                "Successful AddItem calls.",
                &["service_name"],
            ),
            emails_sent: counter(
                "boutique_emails_sent_total",
                "Order confirmations handed to the mail server (or logged in dry-run mode).",
                &["service_name"],
            ),
            emails_failed: counter(
                "boutique_emails_failed_total",
                "Order confirmations that could not be sent.",
                &["service_name"],
            ),
            checkout_failures: counter(
                "boutique_checkout_failures_total",
                "PlaceOrder calls that failed, by the step that failed.",
                &["service_name", "stage"],
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
}

/// Registers a family defined in [`Metrics::new`]. The definitions are static
/// and each is registered once, so neither step can fail at run time.
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
        // Series a service owns start at zero, so dashboards and alerts see
        // "none yet" rather than "no data" (rates over absent series are empty).
        match service {
            "payment" => {
                for reason in DeclineReason::ALL {
                    metrics
                        .payment_declines
                        .with_label_values(&[service, reason.label()]);
                }
            }
            "checkout" => {
                for stage in CheckoutStage::ALL {
                    metrics
                        .checkout_failures
                        .with_label_values(&[service, stage.label()]);
                }
            }
            "cart" => {
                metrics.cart_additions.with_label_values(&[service]);
            }
            "email" => {
                metrics.emails_sent.with_label_values(&[service]);
                metrics.emails_failed.with_label_values(&[service]);
            }
            _ => {}
        }
        Self {
            service,
            metrics,
            recording: true,
        }
    }

    /// Whether calls and business events are recorded.
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

    /// An order was placed for `amount` units of `currency`.
    pub fn order_placed(&self, currency: &str, amount: f64) {
        if !self.recording {
            return;
        }
        self.metrics
            .orders_placed
            .with_label_values(&[self.service, currency])
            .inc();
        if amount.is_finite() && amount >= 0.0 {
            self.metrics
                .order_revenue
                .with_label_values(&[self.service, currency])
                .inc_by(amount);
        }
    }

    /// A charge was declined.
    pub fn payment_declined(&self, reason: DeclineReason) {
        if !self.recording {
            return;
        }
        self.metrics
            .payment_declines
            .with_label_values(&[self.service, reason.label()])
            .inc();
    }

    /// An item went into a cart.
    pub fn cart_item_added(&self) {
        if !self.recording {
            return;
        }
        self.metrics
            .cart_additions
            .with_label_values(&[self.service])
            .inc();
    }

    /// A confirmation email went out.
    pub fn email_sent(&self) {
        if !self.recording {
            return;
        }
        self.metrics
            .emails_sent
            .with_label_values(&[self.service])
            .inc();
    }

    /// A confirmation email could not be sent.
    pub fn email_failed(&self) {
        if !self.recording {
            return;
        }
        self.metrics
            .emails_failed
            .with_label_values(&[self.service])
            .inc();
    }

    /// PlaceOrder failed at `stage`.
    pub fn checkout_failed(&self, stage: CheckoutStage) {
        if !self.recording {
            return;
        }
        self.metrics
            .checkout_failures
            .with_label_values(&[self.service, stage.label()])
            .inc();
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
