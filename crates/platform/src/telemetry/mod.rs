//! Telemetry: logs, metrics and traces, set up once per process and handed
//! to each service as a [`Telemetry`] when it is built.
//!
//! - [`logs`]: JSON lines (with `trace_id`, `span_id` and `service`) or text.
//! - [`metrics`]: the Prometheus families every service shares, and the
//!   helpers a service registers its own with; one registry per process,
//!   served on the admin port by [`crate::admin`].
//! - [`trace`]: W3C propagation, spans and OTLP export.
//! - [`grpc`] and [`http`]: the layers that put every inbound and outbound
//!   call into all three.
//!
//! # Environment
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `ENABLE_TRACING` | export spans over OTLP/gRPC (upstream's switch) | off |
//! | `ENABLE_METRICS` | record metrics; off leaves only `boutique_build_info` and process metrics (for measuring what telemetry costs: the W3C context still passes through) | on |
//! | `COLLECTOR_SERVICE_ADDR` | the collector as `host:port` (upstream's name) | `OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`, else `localhost:4317` |
//! | `OTEL_SDK_DISABLED` | `true` turns tracing off whatever `ENABLE_TRACING` says | `false` |
//! | `OTEL_SERVICE_NAME` | `service.name` of a single-service process | the service's name |
//! | `OTEL_RESOURCE_ATTRIBUTES` | extra resource attributes (may replace `service.namespace`) | none |
//! | `OTEL_TRACES_SAMPLER[_ARG]`, `OTEL_BSP_*`, `OTEL_EXPORTER_OTLP_*` | as the OpenTelemetry spec defines | SDK defaults |
//!
//! The SDK's own events go to the log under the targets `opentelemetry*`: a
//! collector that cannot be reached shows as `BatchSpanProcessor.ExportError`
//! (`LOG_LEVEL=info,opentelemetry_sdk=off` silences them).

pub mod grpc;
pub mod http;
pub mod logs;
pub mod metrics;
pub mod trace;

use std::{fmt, sync::Arc, sync::Mutex};

use opentelemetry::{Context, trace::TracerProvider as _};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

pub use logs::{LogConfig, LogFormat, init};
pub use metrics::{Counter, Gauge, Metrics, ServiceMetrics, Sum};

use crate::{
    config::{ConfigError, Env, parse_flag, parse_service_addr},
    faults::{CallFaults, FaultSource},
};

/// The `service.namespace` of every Boutique service unless
/// `OTEL_RESOURCE_ATTRIBUTES` says otherwise.
pub const NAMESPACE: &str = "boutique";

/// Process-wide telemetry settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetryConfig {
    /// Export spans (`ENABLE_TRACING`, unless `OTEL_SDK_DISABLED=true`).
    pub tracing: bool,
    /// Record metrics (`ENABLE_METRICS`, default on).
    pub metrics: bool,
    /// Where spans go.
    pub export: trace::ExportConfig,
    /// `OTEL_SERVICE_NAME`, for a process running one service.
    pub service_name: Option<String>,
}

impl Default for TelemetryConfig {
    /// Metrics on, tracing off.
    fn default() -> Self {
        Self {
            tracing: false,
            metrics: true,
            export: trace::ExportConfig::default(),
            service_name: None,
        }
    }
}

impl TelemetryConfig {
    /// Reads the variables in the [module table](self); `version` becomes `service.version`.
    pub fn from_env(env: &Env, version: &str) -> Result<Self, ConfigError> {
        let tracing = env.flag("ENABLE_TRACING")? && !env.flag("OTEL_SDK_DISABLED")?;
        let endpoint = env
            .parse_with("COLLECTOR_SERVICE_ADDR", parse_service_addr)?
            .map(|host_port| format!("http://{host_port}"));
        let metrics = env
            .parse_with("ENABLE_METRICS", parse_flag)?
            .unwrap_or(true);
        Ok(Self {
            tracing,
            metrics,
            export: trace::ExportConfig {
                endpoint,
                namespace: NAMESPACE.to_owned(),
                version: version.to_owned(),
            },
            service_name: env.get("OTEL_SERVICE_NAME").map(str::to_owned),
        })
    }
}

/// Why telemetry could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up span export")]
pub struct TelemetryError(#[from] opentelemetry_otlp::ExporterBuildError);

/// The telemetry of one process: its metrics registry, and a tracer provider
/// per service when tracing is on.
pub struct TelemetryHub {
    config: TelemetryConfig,
    commit: String,
    metrics: Arc<Metrics>,
    providers: Mutex<Vec<SdkTracerProvider>>,
    faults: Option<Arc<dyn FaultSource>>,
}

impl fmt::Debug for TelemetryHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelemetryHub")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl TelemetryHub {
    /// A hub with a fresh registry; `commit` labels `boutique_build_info`.
    pub fn new(config: TelemetryConfig, commit: &str) -> Self {
        Self {
            config,
            commit: commit.to_owned(),
            metrics: Metrics::new(),
            providers: Mutex::new(Vec::new()),
            faults: None,
        }
    }

    /// Gives every service this hub makes the faults `source` has for it
    /// (injected into its inbound gRPC calls by [`crate::faults::FaultLayer`]).
    #[must_use]
    pub fn with_faults(mut self, source: Arc<dyn FaultSource>) -> Self {
        self.faults = Some(source);
        self
    }

    /// The registry the admin port serves.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// The telemetry of `service`. `alone` says the process runs only this
    /// service, so `OTEL_SERVICE_NAME` may rename it in traces. Call inside
    /// the Tokio runtime: the span exporter's channel lives there.
    pub fn service(&self, service: &'static str, alone: bool) -> Result<Telemetry, TelemetryError> {
        let metrics = ServiceMetrics::new(
            service,
            self.metrics.clone(),
            &self.config.export.version,
            &self.commit,
        )
        .recording(self.config.metrics);
        let tracer = if self.config.tracing {
            let name = match &self.config.service_name {
                Some(name) if alone => name.as_str(),
                _ => service,
            };
            let provider = trace::provider(name, &self.config.export)?;
            let tracer = provider.tracer(service);
            self.providers
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(provider);
            Some(tracer)
        } else {
            None
        };
        let telemetry = Telemetry(Arc::new(Inner {
            service,
            metrics,
            tracer,
            faults: None,
        }));
        Ok(
            match self.faults.as_ref().and_then(|f| f.for_service(&telemetry)) {
                Some(faults) => telemetry.with_faults(faults),
                None => telemetry,
            },
        )
    }

    /// Exports the spans still buffered; call after the servers have drained.
    pub fn shutdown(&self) {
        let providers = std::mem::take(
            &mut *self
                .providers
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for provider in providers {
            if let Err(error) = provider.shutdown() {
                tracing::warn!(error = %error, "Some spans could not be exported.");
            }
        }
    }
}

/// One service's telemetry: its name, its view of the metrics, its tracer.
/// Cheap to clone.
#[derive(Clone)]
pub struct Telemetry(Arc<Inner>);

struct Inner {
    service: &'static str,
    metrics: ServiceMetrics,
    tracer: Option<SdkTracer>,
    faults: Option<Arc<dyn CallFaults>>,
}

impl fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Telemetry")
            .field("service", &self.0.service)
            .field("tracing", &self.0.tracer.is_some())
            .field("faults", &self.0.faults.is_some())
            .finish()
    }
}

impl Telemetry {
    /// Metrics into a registry of its own and no span export: what tests hand
    /// a service to read its metrics apart from any other's.
    pub fn detached(service: &'static str) -> Self {
        Self(Arc::new(Inner {
            service,
            metrics: ServiceMetrics::new(service, Metrics::new(), "", ""),
            tracer: None,
            faults: None,
        }))
    }

    /// The same telemetry, with `faults` injected into the service's inbound
    /// gRPC calls ([`crate::faults`]).
    #[must_use]
    pub fn with_faults(&self, faults: Arc<dyn CallFaults>) -> Self {
        Self(Arc::new(Inner {
            service: self.0.service,
            metrics: self.0.metrics.clone(),
            tracer: self.0.tracer.clone(),
            faults: Some(faults),
        }))
    }

    /// The faults injected into the service's inbound calls, if any.
    pub fn faults(&self) -> Option<&Arc<dyn CallFaults>> {
        self.0.faults.as_ref()
    }

    /// The service's name.
    pub fn service(&self) -> &'static str {
        self.0.service
    }

    /// The service's metrics.
    pub fn metrics(&self) -> &ServiceMetrics {
        &self.0.metrics
    }

    /// The tracer, when tracing is on.
    pub(crate) fn tracer(&self) -> Option<&SdkTracer> {
        self.0.tracer.as_ref()
    }

    /// `context` marked as running in this service, for the `service` field of logs.
    pub(crate) fn enter(&self, context: &Context) -> Context {
        context.with_value(CurrentService(self.0.service))
    }
}

/// The service a piece of work runs in, kept in the OpenTelemetry context so
/// log lines of `boutique all` say which service wrote them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CurrentService(pub(crate) &'static str);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_upstream_switch_and_collector_address() {
        let config = TelemetryConfig::from_env(&Env::default(), "1.2.3").unwrap();
        assert!(!config.tracing);
        assert_eq!(config.export.endpoint, None);
        assert_eq!(config.export.namespace, "boutique");
        assert_eq!(config.export.version, "1.2.3");

        let env = Env::from_pairs([
            ("ENABLE_TRACING", "1"),
            ("COLLECTOR_SERVICE_ADDR", "opentelemetrycollector:4317"),
            ("OTEL_SERVICE_NAME", "my-cart"),
        ]);
        let config = TelemetryConfig::from_env(&env, "1").unwrap();
        assert!(config.tracing);
        assert_eq!(
            config.export.endpoint.as_deref(),
            Some("http://opentelemetrycollector:4317")
        );
        assert_eq!(config.service_name.as_deref(), Some("my-cart"));

        assert!(config.metrics);
        let quiet = Env::from_pairs([("ENABLE_METRICS", "0")]);
        assert!(!TelemetryConfig::from_env(&quiet, "1").unwrap().metrics);
        let disabled = env.with("OTEL_SDK_DISABLED", "true");
        assert!(!TelemetryConfig::from_env(&disabled, "1").unwrap().tracing);
        for (var, bad) in [
            ("ENABLE_TRACING", "maybe"),
            ("COLLECTOR_SERVICE_ADDR", "collector"),
        ] {
            let error = TelemetryConfig::from_env(&Env::from_pairs([(var, bad)]), "1").unwrap_err();
            assert_eq!(error.var, var);
        }
    }

    /// A family as a service would define it.
    fn events(telemetry: &Telemetry) -> Counter {
        telemetry
            .metrics()
            .counter("test_events_total", "Events, by kind.", &["kind"])
    }

    #[tokio::test]
    async fn each_service_gets_its_own_name_and_the_process_one_registry() {
        let hub = TelemetryHub::new(TelemetryConfig::default(), "abc123");
        let cart = hub.service("cart", false).unwrap();
        let email = hub.service("email", false).unwrap();
        assert_eq!((cart.service(), email.service()), ("cart", "email"));
        assert!(cart.tracer().is_none(), "tracing is off by default");
        // Two services, and a second instance of one, share one family and
        // each records under its own `service_name`.
        events(&cart).start_at_zero(&["b"]);
        events(&cart).inc(&["a"]);
        events(&hub.service("cart", false).unwrap()).inc(&["a"]);
        events(&email).inc(&["a"]);
        let revenue = email
            .metrics()
            .sum("test_amount_total", "Amounts.", &["currency"]);
        revenue.add(&["EUR"], 1.5);
        revenue.add(&["EUR"], -1.0);
        revenue.add(&["EUR"], f64::NAN);
        let text = hub.metrics().render();
        let sample = |name, labels: &[(&str, &str)]| crate::testing::sample(&text, name, labels);
        let of = |service, kind| [("service_name", service), ("kind", kind)];
        assert_eq!(sample("test_events_total", &of("cart", "a")), Some(2.0));
        assert_eq!(sample("test_events_total", &of("cart", "b")), Some(0.0));
        assert_eq!(sample("test_events_total", &of("email", "a")), Some(1.0));
        assert_eq!(sample("test_events_total", &of("email", "b")), None);
        let eur = [("service_name", "email"), ("currency", "EUR")];
        assert_eq!(
            sample("test_amount_total", &eur),
            Some(1.5),
            "only non-negative finite amounts count"
        );
        let build = [
            ("service_name", "cart"),
            ("version", ""),
            ("commit", "abc123"),
        ];
        assert_eq!(sample("boutique_build_info", &build), Some(1.0));
        hub.shutdown();

        let config = TelemetryConfig {
            metrics: false,
            ..TelemetryConfig::default()
        };
        let quiet = TelemetryHub::new(config, "abc123");
        let cart = quiet.service("cart", true).unwrap();
        events(&cart).start_at_zero(&["a"]);
        events(&cart).inc(&["a"]);
        let text = quiet.metrics().render();
        let sample = crate::testing::sample(&text, "test_events_total", &of("cart", "a"));
        assert_eq!(sample, Some(0.0), "ENABLE_METRICS=0 records nothing");
    }

    #[test]
    #[should_panic(expected = "metric test_events_total is defined twice, differently")]
    fn a_family_defined_twice_differently_is_a_bug() {
        let cart = Telemetry::detached("cart");
        events(&cart);
        cart.metrics()
            .counter("test_events_total", "Events, by kind.", &["sort"]);
    }
}
