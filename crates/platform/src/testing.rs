//! Test helpers: run a real service in the background on `127.0.0.1:0` and
//! stop it cleanly at the end of the test.

use std::{fmt, future::Future, net::SocketAddr, pin::Pin};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

/// A future that resolves when the test wants the server to stop.
pub type StopSignal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A service running in the background of a test.
#[derive(Debug)]
pub struct TestServer {
    addr: SocketAddr,
    stop: CancellationToken,
    task: Option<JoinHandle<Result<(), String>>>,
}

impl TestServer {
    /// Spawns `run(stop)` for a server already bound to `addr`.
    pub fn spawn<F, E>(addr: SocketAddr, run: impl FnOnce(StopSignal) -> F) -> Self
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
        E: fmt::Display,
    {
        let stop = CancellationToken::new();
        let future = run(Box::pin(stop.clone().cancelled_owned()));
        let task = tokio::spawn(async move { future.await.map_err(|e| e.to_string()) });
        Self {
            addr,
            stop,
            task: Some(task),
        }
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A connected channel; fails the test if the server does not accept.
    pub async fn channel(&self) -> Channel {
        Channel::from_shared(self.url())
            .expect("valid url")
            .connect()
            .await
            .expect("server accepts connections")
    }

    /// Stops the server and fails the test if it did not shut down cleanly.
    pub async fn stop(mut self) {
        self.stop.cancel();
        let task = self.task.take().expect("stopped once");
        task.await
            .expect("server task did not panic")
            .expect("server stopped cleanly");
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
