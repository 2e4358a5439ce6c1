//! One checkout through `boutique all` with `ENABLE_TRACING=1` is one trace:
//! an OTLP receiver on loopback (the collector's trace service, served by
//! tonic in this test) gets spans from the eight services the purchase
//! touches, each under its own `service.name`, linked parent to child from
//! the shopper's own `traceparent` down to the email.

use std::{
    collections::{HashMap, HashSet},
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use opentelemetry_proto::tonic::{
    collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
        trace_service_server::{TraceService, TraceServiceServer},
    },
    common::v1::{AnyValue, any_value::Value},
    trace::v1::span::SpanKind,
};
use tokio::{net::TcpListener, sync::Notify};
use tonic::{Request, Response, Status, transport::server::TcpIncoming};

mod support;

use support::{CARD, Running, buy, shopper};

/// The shopper's browser started this trace.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const BROWSER_SPAN: &str = "00f067aa0ba902b7";

/// The services one purchase goes through.
const PURCHASE_PATH: [&str; 8] = [
    "frontend", "checkout", "cart", "catalog", "currency", "payment", "shipping", "email",
];

/// One received span, flattened.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    namespace: String,
    name: String,
    kind: SpanKind,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    attributes: HashMap<String, String>,
}

/// The collector's trace service, keeping what it receives.
#[derive(Debug, Clone, Default)]
struct Receiver {
    spans: Arc<Mutex<Vec<Received>>>,
    arrived: Arc<Notify>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let mut received = Vec::new();
        for resource_spans in request.into_inner().resource_spans {
            let resource: HashMap<String, String> = resource_spans
                .resource
                .map(|r| attributes(&r.attributes))
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    received.push(Received {
                        service: resource.get("service.name").cloned().unwrap_or_default(),
                        namespace: resource
                            .get("service.namespace")
                            .cloned()
                            .unwrap_or_default(),
                        kind: SpanKind::try_from(span.kind).unwrap_or(SpanKind::Unspecified),
                        name: span.name,
                        trace_id: hex(&span.trace_id),
                        span_id: hex(&span.span_id),
                        parent_span_id: hex(&span.parent_span_id),
                        attributes: attributes(&span.attributes),
                    });
                }
            }
        }
        self.spans.lock().unwrap().extend(received);
        self.arrived.notify_waiters();
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

impl Receiver {
    async fn start(self) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(self))
                .serve_with_incoming(TcpIncoming::from(listener)),
        );
        addr
    }

    /// The spans of `trace_id` once every service in `services` has sent
    /// some, or whatever arrived when `timeout` ran out.
    async fn wait_for_trace(
        &self,
        trace_id: &str,
        services: &[&str],
        timeout: Duration,
    ) -> Vec<Received> {
        let collect = || -> Vec<Received> {
            self.spans
                .lock()
                .unwrap()
                .iter()
                .filter(|s| s.trace_id == trace_id)
                .cloned()
                .collect()
        };
        // Every service has reported, and every span's parent has arrived
        // but the entry point's (whose parent is the browser's span): spans
        // come in batches, per process, and a parent ends (and is sent) after
        // its children, so until the entry point arrives its children are
        // the orphans.
        let complete = |spans: &[Received]| {
            let seen: HashSet<&str> = spans.iter().map(|s| s.service.as_str()).collect();
            let ids: HashSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
            let mut orphans = spans
                .iter()
                .filter(|s| !ids.contains(s.parent_span_id.as_str()));
            services.iter().all(|s| seen.contains(s))
                && orphans.all(|s| s.parent_span_id == BROWSER_SPAN)
                && spans.iter().any(|s| s.parent_span_id == BROWSER_SPAN)
        };
        let _ = tokio::time::timeout(timeout, async {
            loop {
                let arrived = self.arrived.notified();
                if complete(&collect()) {
                    return;
                }
                arrived.await;
            }
        })
        .await;
        collect()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attributes(
    list: &[opentelemetry_proto::tonic::common::v1::KeyValue],
) -> HashMap<String, String> {
    list.iter()
        .map(|kv| {
            let value = match kv.value.as_ref().and_then(|v: &AnyValue| v.value.as_ref()) {
                Some(Value::StringValue(s)) => s.clone(),
                Some(Value::IntValue(i)) => i.to_string(),
                Some(Value::DoubleValue(d)) => d.to_string(),
                Some(Value::BoolValue(b)) => b.to_string(),
                other => format!("{other:?}"),
            };
            (kv.key.clone(), value)
        })
        .collect()
}

#[tokio::test]
async fn a_checkout_is_one_trace_across_eight_services() {
    let receiver = Receiver::default();
    let collector = receiver.clone().start().await;
    let collector = collector.to_string();
    let shop = Running::all(
        &[],
        &[
            ("ENABLE_TRACING", "1"),
            ("COLLECTOR_SERVICE_ADDR", collector.as_str()),
            // Export promptly instead of every 5 s.
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
        ],
    );
    let client = shopper();
    let traceparent = format!("00-{TRACE_ID}-{BROWSER_SPAN}-01");
    let page = buy(
        &shop,
        &client,
        "OLJCESPC7Z",
        &[("traceparent", &traceparent), ("baggage", "synthetic=true")],
    )
    .await;

    let spans = receiver
        .wait_for_trace(TRACE_ID, &PURCHASE_PATH, Duration::from_secs(30))
        .await;
    let services: HashSet<&str> = spans.iter().map(|s| s.service.as_str()).collect();
    for service in PURCHASE_PATH {
        assert!(
            services.contains(service),
            "no span from {service}; got spans from {services:?}"
        );
    }
    assert!(
        spans.iter().all(|s| s.namespace == "boutique"),
        "{spans:#?}"
    );

    // Connected: the storefront's server span hangs off the browser's span,
    // and every other span off a span of this trace.
    let by_id: HashMap<&str, &Received> = spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
    let roots: Vec<&Received> = spans
        .iter()
        .filter(|s| !by_id.contains_key(s.parent_span_id.as_str()))
        .collect();
    assert_eq!(roots.len(), 1, "one entry point, got {roots:#?}");
    let root = roots[0];
    assert_eq!(
        (root.service.as_str(), root.name.as_str(), root.kind),
        ("frontend", "POST /cart/checkout", SpanKind::Server)
    );
    assert_eq!(root.parent_span_id, BROWSER_SPAN);

    // Every server span of a backend is the child of a client span of its caller.
    for span in spans
        .iter()
        .filter(|s| s.kind == SpanKind::Server && s.service != "frontend")
    {
        let parent = by_id[span.parent_span_id.as_str()];
        assert_eq!(parent.kind, SpanKind::Client, "{span:#?} under {parent:#?}");
        assert_ne!(parent.service, span.service, "{span:#?}");
        assert_eq!(
            parent.name, span.name,
            "client and server name the same method"
        );
    }
    let server = |service: &str, name: &str| {
        spans
            .iter()
            .find(|s| s.service == service && s.name == name && s.kind == SpanKind::Server)
            .unwrap_or_else(|| panic!("no {service} server span {name}: {spans:#?}"))
    };
    let place_order = server("checkout", "hipstershop.CheckoutService/PlaceOrder");
    let charge = server("payment", "hipstershop.PaymentService/Charge");
    let email = server("email", "hipstershop.EmailService/SendOrderConfirmation");
    assert_eq!(
        by_id[place_order.parent_span_id.as_str()].service,
        "frontend"
    );
    assert_eq!(by_id[charge.parent_span_id.as_str()].service, "checkout");
    assert_eq!(by_id[email.parent_span_id.as_str()].service, "checkout");

    // The business attributes, in our namespace, match what the shopper saw.
    let order_id = &place_order.attributes["boutique.order.id"];
    assert!(
        page.contains(order_id.as_str()),
        "order {order_id} not on the page"
    );
    assert_eq!(place_order.attributes["boutique.order.item_count"], "1");
    assert_eq!(place_order.attributes["boutique.user.currency"], "USD");
    assert!(
        place_order
            .attributes
            .contains_key("boutique.order.tracking_id")
    );
    assert_eq!(email.attributes["boutique.order.id"], *order_id);
    assert_eq!(place_order.attributes["rpc.grpc.status_code"], "0");

    // No card data anywhere: not the number, not its last four digits, not the CVV.
    for span in &spans {
        for (key, value) in &span.attributes {
            assert!(
                !value.contains(CARD) && !value.contains(&CARD[12..]) && value != "672",
                "card data in {}.{key} = {value}",
                span.name
            );
        }
    }
    assert!(shop.interrupt().success());
}

#[tokio::test]
async fn with_tracing_off_logs_still_carry_the_callers_trace_id() {
    let shop = Running::all(&[], &[]);
    let client = shopper();
    let traceparent = format!("00-{TRACE_ID}-{BROWSER_SPAN}-01");
    let response = client
        .get(format!("{}/product/NOSUCHPRODUCT", shop.url))
        .header("traceparent", &traceparent)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    // The frontend logs every request; that line names the service and the trace.
    let line = loop {
        let line = shop
            .logs
            .recv_timeout(Duration::from_secs(10))
            .expect("a request log line");
        let json: serde_json::Value = serde_json::from_str(&line).unwrap();
        if json["message"] == "Served request." && json["path"] == "/product/NOSUCHPRODUCT" {
            break json;
        }
    };
    assert_eq!(line["trace_id"], TRACE_ID, "{line}");
    assert_eq!(line["span_id"], BROWSER_SPAN, "{line}");
    assert_eq!(line["service"], "frontend", "{line}");
    assert!(
        line["severity"].is_string() && line["timestamp"].is_string(),
        "{line}"
    );
    assert!(shop.interrupt().success());
}
