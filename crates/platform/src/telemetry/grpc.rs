//! The gRPC side of telemetry: a tower layer on every server and a channel
//! wrapper for every client, each recording a span, the RED metrics and the
//! W3C context of the call.
//!
//! The status code is read from the response headers. Our servers (and
//! tonic's) answer a failed unary call with a trailers-only response, whose
//! headers carry `grpc-status`; a response without it is counted as `OK`.
//! Latency runs to the response headers, which for a unary call is when the
//! answer is ready.

use std::{
    borrow::Cow,
    task::{Context as TaskContext, Poll},
};

use futures::future::BoxFuture;
use opentelemetry::{
    Context, KeyValue,
    trace::{FutureExt as _, SpanKind, Status as SpanStatus, TraceContextExt, Tracer},
};
use opentelemetry_sdk::trace::SdkTracer;
use tokio::time::Instant;
use tonic::{Code, body::Body, transport::Channel};
use tower::{BoxError, Layer, Service};

use super::{Telemetry, metrics::GrpcMethod, trace};
use crate::resilience::{Guarded, PeerGuards, Policy};

/// Adds telemetry to a gRPC server's routes.
#[derive(Debug, Clone)]
pub struct ServerLayer {
    telemetry: Telemetry,
}

impl ServerLayer {
    /// The layer for `telemetry`'s service.
    pub fn new(telemetry: Telemetry) -> Self {
        Self { telemetry }
    }
}

impl<S> Layer<S> for ServerLayer {
    type Service = Server<S>;

    fn layer(&self, inner: S) -> Server<S> {
        Server {
            inner,
            telemetry: self.telemetry.clone(),
        }
    }
}

/// See [`ServerLayer`].
#[derive(Debug, Clone)]
pub struct Server<S> {
    inner: S,
    telemetry: Telemetry,
}

impl<S, B, R> Service<http::Request<B>> for Server<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let start = Instant::now();
        let method = GrpcMethod::from_path(request.uri().path());
        let parent = self.telemetry.enter(&trace::extract(request.headers()));
        let context = match self.telemetry.tracer() {
            Some(tracer) if !method.is_infrastructure() => {
                rpc_span(tracer, &method, SpanKind::Server, &parent)
            }
            _ => parent,
        };
        let response = self.inner.call(request).with_context(context.clone());
        let telemetry = self.telemetry.clone();
        Box::pin(async move {
            let result = response.await;
            let code = match &result {
                Ok(response) => status_code(response.headers()),
                Err(_) => Code::Unknown,
            };
            telemetry
                .metrics()
                .grpc_served(&method, code_label(code), start.elapsed());
            end_span(&context, code, is_server_error(code));
            result
        })
    }
}

/// A client channel that records a span and metrics for every call and
/// carries the current trace context (and baggage) to the server. Under it,
/// the dependency's resilience policies ([`crate::resilience`]) guard every
/// call; calls they refuse are traced and counted like any other.
#[derive(Debug, Clone)]
pub struct TracedChannel {
    channel: Guarded,
    telemetry: Telemetry,
}

impl TracedChannel {
    /// Wraps `channel` for calls made by `telemetry`'s service, with no
    /// policies (no limit, breaker or retries): for channels made outside
    /// the directory.
    pub fn new(channel: Channel, telemetry: Telemetry) -> Self {
        let guards = PeerGuards::new("unknown", Policy::unguarded());
        Self::guarded(channel, telemetry, guards)
    }

    /// Wraps `channel` for calls made by `telemetry`'s service to the
    /// dependency `guards` protect.
    pub fn guarded(
        channel: Channel,
        telemetry: Telemetry,
        guards: std::sync::Arc<PeerGuards>,
    ) -> Self {
        Self {
            channel: Guarded::new(channel, guards, &telemetry),
            telemetry,
        }
    }
}

impl Service<http::Request<Body>> for TracedChannel {
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.channel.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        let start = Instant::now();
        let method = GrpcMethod::from_path(request.uri().path());
        let parent = Context::current();
        let context = match self.telemetry.tracer() {
            Some(tracer) => rpc_span(tracer, &method, SpanKind::Client, &parent),
            None => parent,
        };
        trace::inject(&context, request.headers_mut());
        let response = self.channel.call(request);
        let telemetry = self.telemetry.clone();
        Box::pin(async move {
            let result = response.await;
            let code = match &result {
                Ok(response) => status_code(response.headers()),
                // The channel fails only when it cannot reach the server.
                Err(_) => Code::Unavailable,
            };
            telemetry
                .metrics()
                .grpc_called(&method, code_label(code), start.elapsed());
            end_span(&context, code, code != Code::Ok);
            result
        })
    }
}

/// `parent` with a new RPC span of `kind` for `method`, carrying the
/// semantic-convention attributes.
fn rpc_span(tracer: &SdkTracer, method: &GrpcMethod, kind: SpanKind, parent: &Context) -> Context {
    let span = tracer
        .span_builder(method.span_name().to_owned())
        .with_kind(kind)
        .with_attributes([
            KeyValue::new("rpc.system", "grpc"),
            KeyValue::new("rpc.service", method.service().to_owned()),
            KeyValue::new("rpc.method", method.method().to_owned()),
        ])
        .start_with_context(tracer, parent);
    parent.with_span(span)
}

/// Records the outcome on the context's span (if it is ours) and ends it.
fn end_span(context: &Context, code: Code, error: bool) {
    let span = context.span();
    if !span.is_recording() {
        return;
    }
    span.set_attribute(KeyValue::new("rpc.grpc.status_code", code as i64));
    if error {
        span.set_status(SpanStatus::Error {
            description: Cow::Borrowed(code.description()),
        });
    }
    span.end();
}

/// The `grpc-status` of a trailers-only response, else `OK`.
fn status_code(headers: &http::HeaderMap) -> Code {
    headers
        .get("grpc-status")
        .map_or(Code::Ok, |value| Code::from_bytes(value.as_bytes()))
}

/// Server spans are errors only for codes that mean the server failed
/// (semantic conventions): a shopper's invalid card is not the server's fault.
fn is_server_error(code: Code) -> bool {
    matches!(
        code,
        Code::Unknown
            | Code::DeadlineExceeded
            | Code::Unimplemented
            | Code::Internal
            | Code::Unavailable
            | Code::DataLoss
    )
}

/// The code as go-grpc-prometheus writes it, so existing dashboards work.
pub fn code_label(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "Canceled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}
