//! gRPC servers and client channels.
//!
//! [`GrpcServer`] binds when it is built (port 0 allowed, so tests and
//! `boutique all` can read the real port back; or a port shared with the
//! next process of a rolling restart, [`crate::listen`]), serves
//! `grpc.health.v1` (Check and Watch) and server reflection next to the
//! service, and drains gracefully: on shutdown it reports NOT_SERVING, stops
//! accepting (closing the listener, so new connections go to a process that
//! shares the port), sends GOAWAY, lets in-flight calls finish and gives up
//! after a grace period. Channels to other services are made by
//! [`crate::peers`].

mod incoming;

use std::{future::Future, net::SocketAddr, time::Duration};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::{
    body::Body,
    server::NamedService,
    service::Routes,
    transport::{Server, server::TcpIncoming},
};
use tonic_health::ServingStatus;

use crate::{
    App, ServerError,
    app::serve_then_drain,
    faults::FaultLayer,
    listen::Listen,
    readiness::{LIVENESS, Readiness, process_name},
    telemetry::{Telemetry, grpc::ServerLayer},
};

use self::incoming::UntilStopped;

/// How long in-flight calls may run after shutdown starts. Kubernetes' default
/// termination grace is 30 s; staying well inside it leaves time to flush telemetry.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);

/// A bound gRPC server with health and reflection, ready to run.
#[derive(Debug)]
pub struct GrpcServer {
    telemetry: Telemetry,
    listener: TcpListener,
    local_addr: SocketAddr,
    routes: Routes,
    service_names: Vec<&'static str>,
    readiness: Readiness,
    grace: Duration,
    /// Bound with `REUSE_PORT`: readiness is also reported for this process.
    shared_port: bool,
}

impl GrpcServer {
    /// Binds `listen` (an address, or a [`Listen`] that may share its port)
    /// for `telemetry`'s service, whose name the logs, spans and metrics of
    /// every call carry.
    pub async fn bind(
        telemetry: &Telemetry,
        listen: impl Into<Listen>,
    ) -> Result<Self, ServerError> {
        let listen = listen.into();
        let listener = listen.bind().await?;
        let local_addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: listen.addr,
            source,
        })?;
        let (health, health_service) = tonic_health::server::health_reporter();
        // Until `run_until` starts serving, the server as a whole is not ready.
        health
            .set_service_status("", ServingStatus::NotServing)
            .await;
        // Alive from now until exit, whatever the dependencies do.
        health
            .set_service_status(LIVENESS, ServingStatus::Serving)
            .await;
        let reflection = || {
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(boutique_proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        };
        let routes = Routes::new(health_service)
            .add_service(reflection().build_v1()?)
            .add_service(reflection().build_v1alpha()?);
        Ok(Self {
            telemetry: telemetry.clone(),
            listener,
            local_addr,
            routes,
            service_names: Vec::new(),
            readiness: Readiness::new(health),
            grace: DEFAULT_GRACE,
            shared_port: listen.reuse_port,
        })
    }

    /// Adds a service; its name reports SERVING in the health service while the server runs.
    #[must_use]
    pub fn add_service<S>(mut self, service: S) -> Self
    where
        S: tower::Service<
                http::Request<Body>,
                Response = http::Response<Body>,
                Error = std::convert::Infallible,
            > + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.service_names.push(S::NAME);
        self.routes = self.routes.add_service(service);
        self
    }

    /// Sets how long in-flight calls may finish after shutdown starts.
    #[must_use]
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The hook a service reports its dependencies' state through: the
    /// server is ready while every check passes; liveness ignores them.
    pub fn readiness(&self) -> Readiness {
        self.readiness.clone()
    }

    /// Serves until `shutdown` resolves, then drains within the grace period.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServerError> {
        let Self {
            telemetry,
            listener,
            local_addr,
            routes,
            service_names,
            readiness,
            grace,
            shared_port,
        } = self;
        let mut names: Vec<String> = service_names.iter().map(|&name| name.to_owned()).collect();
        names.push(String::new());
        if shared_port {
            names.push(process_name(std::process::id()));
        }
        readiness.start(names).await;
        let name = telemetry.service();
        tracing::info!(service = name, addr = %local_addr, "Serving gRPC.");

        let stop = CancellationToken::new();
        // The end of `incoming` is what stops the server (the signal never
        // fires): it closes the listener without resetting the connections
        // already queued on it, then tonic sends GOAWAY and drains.
        let incoming = UntilStopped::new(
            TcpIncoming::from(listener).with_nodelay(Some(true)),
            stop.clone(),
        );
        // Faults sit inside the telemetry layer, so an injected delay or error
        // shows in the metrics and spans like a real one.
        let faults = FaultLayer::new(&telemetry);
        let serve = Server::builder()
            .layer(ServerLayer::new(telemetry))
            .layer(faults)
            .add_routes(routes)
            .serve_with_incoming_shutdown(incoming, std::future::pending());
        // Probes see NOT_SERVING first, so traffic moves away while calls finish.
        let not_serving = readiness.stop();
        serve_then_drain(name, serve, stop, shutdown, not_serving, grace).await
    }
}

impl From<GrpcServer> for App {
    fn from(server: GrpcServer) -> Self {
        Self::new(server.local_addr(), |shutdown| server.run_until(shutdown))
    }
}
