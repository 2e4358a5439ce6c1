//! The platform every Boutique service stands on.
//!
//! - [`app`]: the shape every service shares: [`ServiceConfig`] (which
//!   directory entry a service is, how it reads its settings and is built)
//!   and [`App`] (bound, then serving until shutdown).
//! - [`config`]: typed settings read once from the environment (upstream names),
//!   with errors that name the variable; bad config exits with code 64.
//! - [`grpc`]: a gRPC server with `grpc.health.v1`, reflection and a bounded
//!   graceful drain; [`web`]: the same life cycle for HTTP.
//! - [`listen`]: where a server listens, and whether it shares its port with
//!   another process for a rolling restart (`REUSE_PORT`).
//! - [`peers`]: the services a service calls, from the directory, as lazily
//!   connecting, traced channels.
//! - [`call`]: the caller's deadline and trace context, passed on to every
//!   downstream call, and retries of the calls that are safe to repeat.
//! - [`resilience`]: per-dependency policies on every outgoing call: a
//!   bulkhead, a circuit breaker, a retry budget.
//! - [`faults`]: delays and errors injected into inbound gRPC calls (the
//!   failure flags' per-method latency and error rate), off unless configured.
//! - [`error`]: the one mapping from service errors to `tonic::Status`.
//! - [`shutdown`]: SIGTERM/SIGINT as a future.
//! - [`telemetry`]: logs, Prometheus metrics and OpenTelemetry traces, with
//!   the layers that record every inbound and outbound call.
//! - [`admin`]: the admin port serving `/metrics` and `/healthz` (liveness).
//! - [`readiness`]: readiness from a service's own checks, liveness apart.
//! - [`cache`]: short-lived caches of backend answers, one load per key at a time.

pub mod admin;
pub mod app;
pub mod cache;
pub mod call;
pub mod clock;
pub mod config;
pub mod error;
pub mod faults;
pub mod grpc;
pub mod listen;
pub mod peers;
pub mod readiness;
pub mod resilience;
pub mod shutdown;
pub mod telemetry;
#[cfg(feature = "test-util")]
pub mod testing;
pub mod web;

pub use app::{App, ServerError, ServiceConfig};
pub use config::{ConfigError, Env};
pub use error::RpcError;
pub use grpc::GrpcServer;
pub use listen::Listen;
pub use peers::Peers;
pub use telemetry::Telemetry;
pub use web::HttpServer;
