//! Traces: W3C context in and out of every call, spans, OTLP export.
//!
//! Propagation always runs: an incoming `traceparent`, `tracestate` and
//! `baggage` become the current OpenTelemetry [`Context`] of the handler, and
//! every outgoing call carries the current context. With tracing off that
//! passes the caller's context on unchanged (so a traced client around an
//! untraced Boutique still gets connected traces, and logs still carry the
//! trace id); with tracing on, each hop adds a server and a client span.
//!
//! Each service has its own tracer provider, so `service.name` is right even
//! when the whole shop runs in one process.

use std::sync::LazyLock;

use http::{HeaderMap, HeaderName, HeaderValue};
/// Re-exported so services can annotate spans without depending on OpenTelemetry.
pub use opentelemetry::KeyValue;
use opentelemetry::{
    Context,
    propagation::{Extractor, Injector, TextMapCompositePropagator, TextMapPropagator},
    trace::TraceContextExt,
};
use opentelemetry_sdk::{
    Resource,
    propagation::{BaggagePropagator, TraceContextPropagator},
    resource::EnvResourceDetector,
    trace::SdkTracerProvider,
};

/// Attribute keys for what the shop does, all under `boutique.`, so they
/// never collide with semantic-convention keys. No card data has a key here.
pub mod attr {
    /// The order id checkout assigned.
    pub const ORDER_ID: &str = "boutique.order.id";
    /// The shipment's tracking id.
    pub const TRACKING_ID: &str = "boutique.order.tracking_id";
    /// The payment transaction id.
    pub const TRANSACTION_ID: &str = "boutique.payment.transaction_id";
    /// The currency the shopper sees prices in.
    pub const USER_CURRENCY: &str = "boutique.user.currency";
    /// How many distinct products an order or cart holds.
    pub const ITEM_COUNT: &str = "boutique.order.item_count";
    /// An amount (a double, rounded: for display only), with [`CURRENCY`].
    pub const AMOUNT: &str = "boutique.order.amount";
    /// The currency of [`AMOUNT`].
    pub const CURRENCY: &str = "boutique.order.currency";
    /// A product id.
    pub const PRODUCT_ID: &str = "boutique.product.id";
    /// A quantity added to a cart.
    pub const QUANTITY: &str = "boutique.cart.quantity";
}

/// Adds attributes to the current span; nothing happens when it is not recorded.
pub fn annotate(attributes: impl IntoIterator<Item = KeyValue>) {
    let context = Context::current();
    let span = context.span();
    if span.is_recording() {
        for attribute in attributes {
            span.set_attribute(attribute);
        }
    }
}

/// `future` running in the current trace context: for work handed to
/// `tokio::spawn`, which would otherwise start with an empty context and
/// break the trace apart.
pub fn in_current_context<F: std::future::Future>(
    future: F,
) -> opentelemetry::trace::WithContext<F> {
    use opentelemetry::trace::FutureExt as _;
    future.with_context(Context::current())
}

/// The W3C trace-context and baggage propagators together.
static PROPAGATOR: LazyLock<TextMapCompositePropagator> = LazyLock::new(|| {
    TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ])
});

/// The caller's context from request headers (or gRPC metadata, which are headers).
pub fn extract(headers: &HeaderMap) -> Context {
    PROPAGATOR.extract(&HeaderExtractor(headers))
}

/// Writes `context` into request headers.
pub fn inject(context: &Context, headers: &mut HeaderMap) {
    PROPAGATOR.inject_context(context, &mut HeaderInjector(headers));
}

/// The current trace and span ids as lower-case hex, when there is a valid span.
pub fn current_ids() -> Option<(String, String)> {
    let context = Context::current();
    let span = context.span();
    let span_context = span.span_context();
    span_context.is_valid().then(|| {
        (
            span_context.trace_id().to_string(),
            span_context.span_id().to_string(),
        )
    })
}

/// Where and how spans are exported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportConfig {
    /// The OTLP/gRPC endpoint (`http://host:4317`) from `COLLECTOR_SERVICE_ADDR`;
    /// `None` leaves it to `OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT` or the OTLP default.
    pub endpoint: Option<String>,
    /// `service.namespace`.
    pub namespace: String,
    /// `service.version`.
    pub version: String,
}

/// A tracer provider exporting `service`'s spans over OTLP in batches.
///
/// `OTEL_RESOURCE_ATTRIBUTES` may add attributes or replace the namespace;
/// `service.name` is always `service`. The sampler and batch settings follow
/// `OTEL_TRACES_SAMPLER[_ARG]` and `OTEL_BSP_*`.
pub fn provider(
    service: &str,
    config: &ExportConfig,
) -> Result<SdkTracerProvider, opentelemetry_otlp::ExporterBuildError> {
    use opentelemetry_otlp::WithExportConfig;

    let mut exporter = opentelemetry_otlp::SpanExporter::builder().with_tonic();
    if let Some(endpoint) = &config.endpoint {
        exporter = exporter.with_endpoint(endpoint.clone());
    }
    let resource = Resource::builder_empty()
        .with_attributes([
            KeyValue::new("service.namespace", config.namespace.clone()),
            KeyValue::new("service.version", config.version.clone()),
        ])
        .with_detector(Box::new(EnvResourceDetector::new()))
        .with_service_name(service.to_owned())
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter.build()?)
        .with_resource(resource)
        .build())
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key)?.to_str().ok()
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::baggage::BaggageExt;

    use super::*;

    #[test]
    fn passes_trace_context_and_baggage_through_unchanged() {
        let mut incoming = HeaderMap::new();
        let traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        incoming.insert("traceparent", traceparent.parse().unwrap());
        incoming.insert("tracestate", "vendor=abc".parse().unwrap());
        incoming.insert("baggage", "session=42".parse().unwrap());
        let context = extract(&incoming);
        assert_eq!(
            context
                .baggage()
                .get("session")
                .map(|v| v.as_str().to_owned()),
            Some("42".to_owned())
        );

        let mut outgoing = HeaderMap::new();
        inject(&context, &mut outgoing);
        assert_eq!(outgoing["traceparent"], traceparent);
        assert_eq!(outgoing["tracestate"], "vendor=abc");
        assert_eq!(outgoing["baggage"], "session=42");
    }

    #[test]
    fn no_context_means_no_headers() {
        let mut outgoing = HeaderMap::new();
        inject(&extract(&HeaderMap::new()), &mut outgoing);
        assert!(outgoing.is_empty());
        let mut garbage = HeaderMap::new();
        garbage.insert("traceparent", "not-a-trace".parse().unwrap());
        inject(&extract(&garbage), &mut outgoing);
        assert!(!outgoing.contains_key("traceparent"));
    }
}
