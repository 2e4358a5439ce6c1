//! The HTTP side of telemetry: an axum middleware that gives every request a
//! server span, the RED metrics by route template, and the caller's W3C
//! context as the handler's current context.

use axum::{
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::Response,
};
use opentelemetry::{
    KeyValue,
    trace::{FutureExt as _, SpanKind, Status as SpanStatus, TraceContextExt, Tracer},
};
use tokio::time::Instant;

use super::{Telemetry, trace};

/// The route label of a request no route matched, so unknown paths cannot
/// grow the label set.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Tracks one request: install with
/// `Router::layer(axum::middleware::from_fn_with_state(telemetry, track))` as
/// the router's outermost layer, so it sees every request (unmatched ones
/// too) and its context covers every other layer, plus
/// `Router::route_layer(axum::middleware::from_fn(record_route))` so it
/// learns the matched route. A request no route matched is labelled
/// [`UNMATCHED_ROUTE`]. Paths ending in `/_healthz` (probes) are counted but
/// not traced.
pub async fn track(State(telemetry): State<Telemetry>, request: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = request.method().clone();
    let parent = telemetry.enter(&trace::extract(request.headers()));
    let path = request.uri().path();
    let context = match telemetry.tracer() {
        Some(tracer) if !path.ends_with("/_healthz") => {
            // Named for the route once it is known; the method alone until then.
            let span = tracer
                .span_builder(method.to_string())
                .with_kind(SpanKind::Server)
                .with_attributes([
                    KeyValue::new("http.request.method", method.to_string()),
                    KeyValue::new("url.path", path.to_owned()),
                ])
                .start_with_context(tracer, &parent);
            parent.with_span(span)
        }
        _ => parent,
    };
    let response = next.run(request).with_context(context.clone()).await;
    let status = response.status();
    let route = response
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED_ROUTE, MatchedPath::as_str);
    telemetry
        .metrics()
        .http_served(method.as_str(), route, status, start.elapsed());
    let span = context.span();
    if span.is_recording() {
        span.update_name(format!("{method} {route}"));
        span.set_attribute(KeyValue::new("http.route", route.to_owned()));
        span.set_attribute(KeyValue::new(
            "http.response.status_code",
            i64::from(status.as_u16()),
        ));
        if status.is_server_error() {
            span.set_status(SpanStatus::error(status.as_str().to_owned()));
        }
        span.end();
    }
    response
}

/// Hands the matched route template to [`track`] through the response.
pub async fn record_route(matched: MatchedPath, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    response.extensions_mut().insert(matched);
    response
}
