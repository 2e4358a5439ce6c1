//! The admin port: `/metrics` (Prometheus text format) and `/healthz`.
//!
//! One per process, apart from the service ports, so scraping never competes
//! with shoppers and a NetworkPolicy can open it to Prometheus alone.
//! Default port [`DEFAULT_ADMIN_PORT`] (`ADMIN_PORT`), the port OpenTelemetry's
//! Prometheus exporters use.

use std::{future::Future, net::SocketAddr, sync::Arc};

use axum::{Router, extract::State, http::header, response::IntoResponse, routing::get};
use tokio::net::TcpListener;

use crate::telemetry::{Metrics, metrics::CONTENT_TYPE};

/// The default admin port.
pub const DEFAULT_ADMIN_PORT: u16 = 9464;

/// A bound admin server.
#[derive(Debug)]
pub struct AdminServer {
    listener: TcpListener,
    local_addr: SocketAddr,
    metrics: Arc<Metrics>,
}

impl AdminServer {
    /// Binds `addr` (port 0 allowed).
    pub async fn bind(addr: SocketAddr, metrics: Arc<Metrics>) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        Ok(Self {
            listener,
            local_addr,
            metrics,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` resolves. Scrapes are short, so there is no drain.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let router = Router::new()
            .route("/metrics", get(metrics))
            .route("/healthz", get(|| async { "ok\n" }))
            .with_state(self.metrics);
        axum::serve(self.listener, router)
            .with_graceful_shutdown(shutdown)
            .await
    }
}

async fn metrics(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], metrics.render())
}
