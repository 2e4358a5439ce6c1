//! Latency and errors per service and method, from the flags
//! `boutique.latency.<service>` (milliseconds) and `boutique.errors.<service>`
//! (a fraction of calls answered `UNAVAILABLE`), injected by the platform's
//! gRPC layer ([`boutique_platform::faults`]) into every service's inbound
//! calls. Each flag is evaluated with `service` (the directory name), `method`
//! (`GetProduct`) and `rpc_service` (`hipstershop.ProductCatalogService`) in
//! its context, so flagd targeting can pick methods.
//!
//! A flag the file does not define costs nothing per call; so does every
//! call when no flag source is configured (the source gives no faults at all).

use std::{sync::Arc, time::Duration};

use boutique_platform::{
    Telemetry,
    faults::{CallFaults, Fault, FaultSource},
    telemetry::metrics::GrpcMethod,
};
use futures::future::BoxFuture;

use crate::{Flags, FlagsConfig, hits, names};

/// The longest delay a latency flag adds: a call's own deadline cuts it
/// sooner, and a typo (seconds for milliseconds) must not park calls for hours.
pub const MAX_DELAY: Duration = Duration::from_secs(30);

/// The fault source of a process: hand it to the
/// [`TelemetryHub`](boutique_platform::telemetry::TelemetryHub).
#[derive(Debug, Clone)]
pub struct FlagFaults {
    config: FlagsConfig,
}

impl FlagFaults {
    /// Faults from `config`'s source.
    pub fn new(config: FlagsConfig) -> Self {
        Self { config }
    }
}

impl FaultSource for FlagFaults {
    fn for_service(&self, telemetry: &Telemetry) -> Option<Arc<dyn CallFaults>> {
        if self.config.is_off() {
            return None;
        }
        Some(Arc::new(ServiceFaults::new(
            Flags::new(&self.config, telemetry),
            telemetry.service(),
        )))
    }
}

/// One service's latency and error flags.
#[derive(Debug, Clone)]
pub struct ServiceFaults {
    flags: Flags,
    service: &'static str,
    latency: Arc<str>,
    errors: Arc<str>,
}

impl ServiceFaults {
    /// The faults of `service` from `flags`.
    pub fn new(flags: Flags, service: &'static str) -> Self {
        Self {
            flags,
            service,
            latency: names::latency_flag(service).into(),
            errors: names::errors_flag(service).into(),
        }
    }
}

impl CallFaults for ServiceFaults {
    fn fault(&self, method: &GrpcMethod) -> Option<BoxFuture<'static, Fault>> {
        let inner = self.flags.inner.as_ref()?;
        let snapshot = inner.engine.snapshot();
        if !snapshot.may_define(&self.latency) && !snapshot.may_define(&self.errors) {
            return None;
        }
        let this = self.clone();
        let rpc_service = method.service().to_owned();
        let rpc_method = method.method().to_owned();
        Some(Box::pin(async move {
            let context = [
                ("service", this.service),
                ("method", rpc_method.as_str()),
                ("rpc_service", rpc_service.as_str()),
            ];
            let millis = this.flags.number_in(&this.latency, &context).await;
            let fraction = this.flags.number_in(&this.errors, &context).await;
            let delay = Duration::try_from_secs_f64(millis.max(0.0) / 1000.0)
                .unwrap_or(MAX_DELAY)
                .min(MAX_DELAY);
            let error = hits(fraction).then(|| {
                tonic::Status::unavailable(format!(
                    "{} failed on purpose (flag {})",
                    rpc_method, this.errors
                ))
            });
            Fault { delay, error }
        }))
    }
}
