//! How an HTTP server stops without failing a request it could have served.
//!
//! HTTP/1.1 cannot tell a client that an idle keep-alive connection is going
//! away: closing it races the client's next request on it, which then fails
//! although the server never read it (and a POST may not be resent). So the
//! drain has two steps:
//!
//! 1. **Hand over.** The listener takes what the kernel has already queued and
//!    closes (with a shared port, new connections now reach the other
//!    process), and every answer on a connection still open carries
//!    `Connection: close`, so its client finishes that exchange and opens a new
//!    connection for the next. This lasts until every connection has closed, or
//!    the linger has passed ([`LINGER`] unless `HttpServer::with_linger` says
//!    otherwise: a client silent that long is not about to send). HTTP/2
//!    clients, told nothing here, hear GOAWAY in the next step.
//! 2. **Shut down.** The server's graceful shutdown closes the idle connections
//!    left and lets requests in flight finish.

use std::{
    io,
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    extract::{Request, State},
    http::{HeaderValue, Version, header},
    middleware::Next,
    response::Response,
};
use futures::FutureExt;
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::Notify,
};
use tokio_util::sync::CancellationToken;

/// How long the hand-over waits for clients to leave their connections, by
/// default.
pub(crate) const LINGER: Duration = Duration::from_secs(1);

/// The drain of one server: whether it has begun, and the connections open.
#[derive(Debug, Clone, Default)]
pub(crate) struct Drain {
    begun: CancellationToken,
    open: Arc<OpenConnections>,
}

#[derive(Debug, Default)]
struct OpenConnections {
    count: AtomicUsize,
    none_left: Notify,
}

impl Drain {
    /// Starts the hand-over and waits until every connection has closed, at
    /// most `linger`.
    pub(crate) async fn hand_over(&self, linger: Duration) {
        self.begun.cancel();
        let all_closed = async {
            loop {
                let notified = self.open.none_left.notified();
                tokio::pin!(notified);
                // Registered before the count is read, so a close in between
                // is not missed.
                notified.as_mut().enable();
                if self.open.count.load(Ordering::Acquire) == 0 {
                    return;
                }
                notified.await;
            }
        };
        let _ = tokio::time::timeout(linger, all_closed).await;
    }

    /// The listener of a server with this drain.
    pub(crate) fn listener(&self, listener: TcpListener, local_addr: SocketAddr) -> Listener {
        Listener {
            listener: Some(listener),
            local_addr,
            drain: self.clone(),
        }
    }
}

/// Adds `Connection: close` to HTTP/1 answers once the drain has begun (a
/// middleware), so each client leaves the connection after its answer.
pub(crate) async fn close_when_draining(
    State(drain): State<Drain>,
    request: Request,
    next: Next,
) -> Response {
    // HTTP/2 has GOAWAY for this and forbids the header.
    let http1 = request.version() <= Version::HTTP_11;
    let mut response = next.run(request).await;
    // Read after the answer is made, so a request that began before the drain
    // and ends after it closes its connection too.
    if http1 && drain.begun.is_cancelled() {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// A listener that closes when the drain begins, and counts the connections
/// it accepted until each closes.
#[derive(Debug)]
pub(crate) struct Listener {
    /// `None` once closed.
    listener: Option<TcpListener>,
    local_addr: SocketAddr,
    drain: Drain,
}

impl Listener {
    async fn next(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            let Some(listener) = &self.listener else {
                // Closed: the server stops accepting for good.
                return std::future::pending().await;
            };
            if self.drain.begun.is_cancelled() {
                // Connections the kernel queued for this socket would be
                // reset when it closes: take those that are there now.
                if let Some(Ok(accepted)) = listener.accept().now_or_never() {
                    return accepted;
                }
                self.listener = None;
                tracing::debug!(addr = %self.local_addr, "Stopped accepting connections.");
                continue;
            }
            tokio::select! {
                () = self.drain.begun.cancelled() => {}
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => return accepted,
                    Err(error) => accept_failed(&error).await,
                },
            }
        }
    }
}

impl axum::serve::Listener for Listener {
    type Io = Counted;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Counted, SocketAddr) {
        let (stream, peer) = self.next().await;
        self.drain.open.count.fetch_add(1, Ordering::AcqRel);
        let counted = Counted {
            stream,
            open: Arc::clone(&self.drain.open),
        };
        (counted, peer)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local_addr)
    }
}

/// What a failed `accept` costs, as axum's own listener decides: nothing when
/// only that connection failed; a pause when the process is out of file
/// descriptors, so it does not spin.
async fn accept_failed(error: &io::Error) {
    if matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %error, "Cannot accept a connection; pausing for a second.");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// An accepted connection, counted as open until it is dropped.
#[derive(Debug)]
pub(crate) struct Counted {
    stream: TcpStream,
    open: Arc<OpenConnections>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        if self.open.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.open.none_left.notify_waiters();
        }
    }
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
