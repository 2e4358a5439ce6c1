//! Injected faults on inbound gRPC calls: a tower layer in every
//! [`GrpcServer`](crate::GrpcServer)'s stack that can delay a call or answer
//! it with an error before the service sees it.
//!
//! The platform knows nothing of where faults come from: a process hands its
//! [`TelemetryHub`](crate::telemetry::TelemetryHub) a [`FaultSource`] (the
//! `boutique` binary gives it the failure flags), which gives each service
//! its [`CallFaults`], carried by the service's [`Telemetry`]. Without one the
//! layer passes every call straight through, so faults cost nothing unless
//! they are configured. The layer sits inside the telemetry layer, so an
//! injected delay or error shows in the RED metrics and spans like a real one.
//! Health and reflection calls are never touched: probes must see the truth.

use std::{
    fmt,
    sync::Arc,
    task::{Context as TaskContext, Poll},
    time::Duration,
};

use futures::future::BoxFuture;
use tower::{Layer, Service};

use crate::telemetry::{Telemetry, metrics::GrpcMethod};

/// What happens to one call: a delay first, then an error answer or the
/// service's own.
#[derive(Debug, Clone, Default)]
pub struct Fault {
    /// How long to hold the call before going on.
    pub delay: Duration,
    /// The answer to give instead of calling the service.
    pub error: Option<tonic::Status>,
}

impl Fault {
    /// Whether this fault does anything.
    pub fn is_none(&self) -> bool {
        self.delay.is_zero() && self.error.is_none()
    }
}

/// The faults of one service's inbound calls.
pub trait CallFaults: Send + Sync + fmt::Debug + 'static {
    /// The fault for a call of `method` (never a health or reflection call),
    /// or `None` when no fault can apply (then the call costs nothing more).
    fn fault(&self, method: &GrpcMethod) -> Option<BoxFuture<'static, Fault>>;
}

/// Where a process's services get their [`CallFaults`] from.
pub trait FaultSource: Send + Sync + fmt::Debug + 'static {
    /// The faults of the service `telemetry` belongs to; `None` for none.
    fn for_service(&self, telemetry: &Telemetry) -> Option<Arc<dyn CallFaults>>;
}

/// The layer; see the [module documentation](self).
#[derive(Debug, Clone)]
pub struct FaultLayer {
    faults: Option<Arc<dyn CallFaults>>,
}

impl FaultLayer {
    /// The layer injecting `telemetry`'s faults, if it carries any.
    pub fn new(telemetry: &Telemetry) -> Self {
        Self {
            faults: telemetry.faults().cloned(),
        }
    }
}

impl<S> Layer<S> for FaultLayer {
    type Service = Faulty<S>;

    fn layer(&self, inner: S) -> Faulty<S> {
        Faulty {
            inner,
            faults: self.faults.clone(),
        }
    }
}

/// See [`FaultLayer`].
#[derive(Debug, Clone)]
pub struct Faulty<S> {
    inner: S,
    faults: Option<Arc<dyn CallFaults>>,
}

impl<S, B, R> Service<http::Request<B>> for Faulty<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    R: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let Some(faults) = &self.faults else {
            return Box::pin(self.inner.call(request));
        };
        let method = GrpcMethod::from_path(request.uri().path());
        if method.is_infrastructure() {
            return Box::pin(self.inner.call(request));
        }
        let Some(fault) = faults.fault(&method) else {
            return Box::pin(self.inner.call(request));
        };
        // The service that was made ready is the one to call; a clone takes
        // its place for the next call (tower's usual move for calls that
        // start later).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let fault = fault.await;
            if !fault.delay.is_zero() {
                tokio::time::sleep(fault.delay).await;
            }
            match fault.error {
                Some(status) => Ok(status.into_http()),
                None => inner.call(request).await,
            }
        })
    }
}
