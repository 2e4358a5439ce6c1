//! The load generator's own Prometheus metrics, served on its admin port next
//! to the process metrics: what the synthetic shoppers saw, by route.
//!
//! - `loadgen_requests_total{method, route, outcome}`: finished requests.
//! - `loadgen_request_duration_seconds{method, route}`: their latency, timed as
//!   the report times it (from the intended send time in open-loop mode).
//!
//! Labels are bounded: `route` is one of the shopper's six route names (product
//! pages grouped as `/product/{id}`) or one of the `--page` paths the operator
//! gave, and `outcome` is one of [`Outcome`]'s four values. The collector task
//! records each sample, so the shoppers themselves pay nothing for this.

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

use crate::stats::{Outcome, Route, Sample};

/// The families, registered in the process's registry.
#[derive(Debug, Clone)]
pub(crate) struct LoadgenMetrics {
    requests: IntCounterVec,
    duration: HistogramVec,
}

impl LoadgenMetrics {
    /// Defines the families and registers them in `registry`.
    pub(crate) fn register(registry: &Registry) -> prometheus::Result<Self> {
        let requests = IntCounterVec::new(
            Opts::new(
                "loadgen_requests_total",
                "Requests the load generator finished, by route and outcome.",
            ),
            &["method", "route", "outcome"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "loadgen_request_duration_seconds",
                "Time from (intended) send to the end of the final response body.",
            )
            .buckets(boutique_platform::telemetry::metrics::LATENCY_BUCKETS.to_vec()),
            &["method", "route"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        Ok(Self { requests, duration })
    }

    /// Series that start at zero, so a rate over them reads "none yet" rather
    /// than "no data": every outcome of every route this run will use.
    pub(crate) fn announce(&self, routes: impl IntoIterator<Item = Route>) {
        for route in routes {
            for outcome in Outcome::ALL {
                self.requests
                    .with_label_values(&[route.method(), route.name(), outcome.label()]);
            }
        }
    }

    /// One finished request.
    pub(crate) fn record(&self, sample: &Sample) {
        let (method, route) = (sample.route.method(), sample.route.name());
        self.requests
            .with_label_values(&[method, route, sample.outcome.label()])
            .inc();
        self.duration
            .with_label_values(&[method, route])
            .observe(sample.latency.as_secs_f64());
    }
}
