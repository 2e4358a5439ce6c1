//! Test helpers: run a real service in the background on `127.0.0.1:0` and
//! stop it cleanly at the end of the test.

use std::{fmt, future::Future, net::SocketAddr, pin::Pin};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

use crate::{App, ServiceConfig, Telemetry};

/// A future that resolves when the test wants the server to stop.
pub type StopSignal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A service running in the background of a test.
#[derive(Debug)]
pub struct TestServer {
    addr: SocketAddr,
    telemetry: Option<Telemetry>,
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
            telemetry: None,
            stop,
            task: Some(task),
        }
    }

    /// Runs a built service in the background.
    pub fn run(app: App) -> Self {
        Self::spawn(app.local_addr(), |stop| app.run_until(stop))
    }

    /// Builds the service of `config` with telemetry of its own (read it with
    /// [`TestServer::telemetry`]) and runs it; fails the test if it cannot start.
    pub async fn start<C: ServiceConfig>(config: C) -> Self {
        let telemetry = Telemetry::detached(C::SERVICE.name);
        let app = config
            .build(telemetry.clone())
            .await
            .expect("the service starts");
        let mut server = Self::run(app);
        server.telemetry = Some(telemetry);
        server
    }

    /// The telemetry a service started with [`TestServer::start`] records into.
    pub fn telemetry(&self) -> &Telemetry {
        self.telemetry
            .as_ref()
            .expect("the server was started with TestServer::start")
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

    /// Stops the server like [`TestServer::stop`], then keeps its port bound
    /// (not listening) until the returned guard drops: clients still pointed
    /// at it are refused, as by a dead process, and no other test's server
    /// can be handed the freed port and answer in its place.
    pub async fn stop_holding_port(self) -> HeldPort {
        let addr = self.addr;
        self.stop().await;
        HeldPort::bind(addr)
    }
}

/// A loopback port bound without listening: connections to it are refused,
/// and the kernel picks it for nobody else's `bind(0)`.
#[derive(Debug)]
pub struct HeldPort {
    _socket: socket2::Socket,
}

impl HeldPort {
    /// Binds `addr` (SO_REUSEADDR, so a closed server's TIME_WAIT
    /// connections do not stand in the way); fails the test if another
    /// socket has taken it already.
    pub fn bind(addr: SocketAddr) -> Self {
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::STREAM,
            None,
        )
        .expect("create a socket");
        socket.set_reuse_address(true).expect("set SO_REUSEADDR");
        socket
            .bind(&addr.into())
            .unwrap_or_else(|e| panic!("hold the stopped server's port {addr}: {e}"));
        Self { _socket: socket }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The value of the sample `name` whose labels are exactly `labels` (in any
/// order) in a Prometheus text exposition; `None` when there is no such sample.
pub fn sample(exposition: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut wanted: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    wanted.sort();
    exposition.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?;
        let (labels, value) = match rest.strip_prefix('{') {
            Some(rest) => {
                let (labels, value) = rest.rsplit_once("} ")?;
                (parse_labels(labels)?, value)
            }
            None => (Vec::new(), rest.strip_prefix(' ')?),
        };
        (labels == wanted).then(|| value.trim().parse().ok())?
    })
}

/// `a="1",b="x\"y"` as sorted pairs, unescaping `\\`, `\"` and `\n`.
fn parse_labels(text: &str) -> Option<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next()? {
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                (at, '"') => break at,
                (_, c) => value.push(c),
            }
        };
        pairs.push((key.to_owned(), value));
        rest = after[end + 1..].trim_start_matches(',');
    }
    pairs.sort();
    Some(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_samples_whatever_the_label_order() {
        let text =
            "# TYPE x counter\nx{b=\"2\",a=\"say \\\"hi\\\", ok\"} 3\nx_total 4\nx{a=\"1\"} 5\n";
        assert_eq!(
            sample(text, "x", &[("a", "say \"hi\", ok"), ("b", "2")]),
            Some(3.0)
        );
        assert_eq!(sample(text, "x", &[("a", "1")]), Some(5.0));
        assert_eq!(sample(text, "x_total", &[]), Some(4.0));
        assert_eq!(sample(text, "x", &[("a", "2")]), None);
        assert_eq!(sample(text, "x", &[]), None);
    }
}
