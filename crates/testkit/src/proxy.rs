//! A fault-injecting TCP proxy on loopback, placed between a client and one
//! server: what Toxiproxy does, for tests of what crosses the network (this
//! machine's kernel has no `tc netem`).
//!
//! [`FaultProxy::start`] listens on `127.0.0.1:0` and forwards every
//! connection to the server. [`FaultProxy::set`] changes the [`Fault`] at
//! once, for new connections and for those already open: each chunk read
//! from either side is handled under the fault in force when it arrives.

use std::{io, net::SocketAddr, sync::Arc, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{
        TcpListener, TcpStream,
        tcp::{ReadHalf, WriteHalf},
    },
    sync::watch,
    task::JoinHandle,
};

/// What the proxy does to the traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward everything as it comes.
    None,
    /// Hold every chunk this long before forwarding it, both ways.
    Latency(Duration),
    /// At most this many bytes a second each way (each chunk waits for its
    /// share of the second).
    Bandwidth(u64),
    /// Accept connections and read what comes, but forward nothing and
    /// answer nothing: a peer that went silent. Connections stay open.
    BlackHole,
    /// Reset every connection: new ones at once (RST after accept), open
    /// ones at their next chunk.
    Reset,
}

/// A running proxy; stops when dropped.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    fault: Arc<watch::Sender<Fault>>,
    task: JoinHandle<()>,
}

impl FaultProxy {
    /// Listens on `127.0.0.1:0` and forwards to `server`.
    pub async fn start(server: SocketAddr) -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let fault = Arc::new(watch::Sender::new(Fault::None));
        let task = tokio::spawn(accept_loop(listener, server, fault.clone()));
        Ok(Self { addr, fault, task })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Applies `fault` from now on, to open connections too.
    pub fn set(&self, fault: Fault) {
        self.fault.send_replace(fault);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, server: SocketAddr, fault: Arc<watch::Sender<Fault>>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        if *fault.borrow() == Fault::Reset {
            reset(client);
            continue;
        }
        let fault = fault.subscribe();
        connections.spawn(async move {
            let Ok(mut upstream) = TcpStream::connect(server).await else {
                // The server is down: the client sees its connection reset,
                // as it would have seen a refusal without the proxy.
                reset(client);
                return;
            };
            let mut client = client;
            let _ = client.set_nodelay(true);
            let _ = upstream.set_nodelay(true);
            let ended = {
                let (client_read, client_write) = client.split();
                let (server_read, server_write) = upstream.split();
                // Either direction ending ends the connection.
                tokio::select! {
                    ended = pump(client_read, server_write, fault.clone()) => ended,
                    ended = pump(server_read, client_write, fault) => ended,
                }
            };
            if ended == Ended::Reset {
                reset(client);
                reset(upstream);
            }
        });
        // Reap finished connections so the set does not grow.
        while connections.try_join_next().is_some() {}
    }
}

/// Why a direction stopped.
#[derive(Debug, PartialEq, Eq)]
enum Ended {
    /// One side closed or failed.
    Closed,
    /// The fault says reset.
    Reset,
}

/// Copies `from` to `to` chunk by chunk under the fault in force.
async fn pump(
    mut from: ReadHalf<'_>,
    mut to: WriteHalf<'_>,
    fault: watch::Receiver<Fault>,
) -> Ended {
    let mut buffer = vec![0_u8; 16 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return Ended::Closed,
            Ok(n) => n,
        };
        let current = *fault.borrow();
        match current {
            Fault::None => {}
            Fault::Latency(delay) => tokio::time::sleep(delay).await,
            Fault::Bandwidth(per_second) => {
                let share = read as f64 / per_second.max(1) as f64;
                tokio::time::sleep(Duration::from_secs_f64(share)).await;
            }
            // Swallowed: the peer hears nothing.
            Fault::BlackHole => continue,
            Fault::Reset => return Ended::Reset,
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            return Ended::Closed;
        }
    }
}

/// Closes `stream` with a reset (RST) rather than an orderly FIN.
fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}
