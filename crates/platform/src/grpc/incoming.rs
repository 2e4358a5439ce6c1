//! The connections a gRPC server accepts, until it is told to stop.
//!
//! tonic stops accepting when its shutdown signal fires by dropping the
//! listener at once, which resets the connections the kernel had already
//! queued for it (with a shared port, clients that a moment later would have
//! reached the other process). [`UntilStopped`] ends instead: on `stop` it
//! still hands over the connections that are ready now, then ends, and tonic
//! treats the end like its signal (GOAWAY to every connection, then the
//! drain).

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use futures::{Stream, future::BoxFuture};
use tokio_util::sync::CancellationToken;

/// `incoming`, ending once `stop` is cancelled and nothing more is ready.
pub(crate) struct UntilStopped<S> {
    /// `None` once ended (the listener inside is closed).
    incoming: Option<S>,
    stopped: BoxFuture<'static, ()>,
    is_stopped: bool,
}

impl<S> UntilStopped<S> {
    pub(crate) fn new(incoming: S, stop: CancellationToken) -> Self {
        Self {
            incoming: Some(incoming),
            stopped: Box::pin(stop.cancelled_owned()),
            is_stopped: false,
        }
    }
}

impl<S: Stream + Unpin> Stream for UntilStopped<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = self.get_mut();
        let Some(incoming) = this.incoming.as_mut() else {
            return Poll::Ready(None);
        };
        if !this.is_stopped && this.stopped.as_mut().poll(cx).is_ready() {
            this.is_stopped = true;
        }
        let next = Pin::new(incoming).poll_next(cx);
        if this.is_stopped && !matches!(next, Poll::Ready(Some(_))) {
            this.incoming = None;
            tracing::debug!("Stopped accepting connections.");
            return Poll::Ready(None);
        }
        next
    }
}
