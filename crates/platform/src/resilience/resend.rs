//! Calls the connection dropped before sending them, sent again on a new one.
//!
//! A server that drains (a rolling restart, a scale-down) sends GOAWAY. From
//! then on the HTTP/2 client refuses new streams on that connection, and the
//! calls already handed to it but not yet written fail: hyper cancels them
//! ("connection closed"), or h2 refuses them locally for the GOAWAY; a server
//! may also refuse a stream before processing it (`REFUSED_STREAM`, or a
//! stream above the GOAWAY's last stream id). None of these calls reached the
//! server, so sending one again cannot do anything twice, whatever the call:
//! gRPC's transparent retry. [`Resend`] does that under the breaker (which
//! sees only the final outcome), at most [`MAX_RESENDS`] times, and only for a
//! call whose request body is whole in memory, which is every call with one
//! request message (unary and server streaming); a streaming request passes
//! through untouched. Each resend counts in `boutique_client_retries_total`
//! with outcome `resent_unsent`.
//!
//! Without this a rolling restart failed a few calls with CANCELLED or
//! INTERNAL each time a server drained, writes included (a checkout).

use std::{
    error::Error as StdError,
    sync::Arc,
    task::{Context, Poll},
};

use bytes::{Bytes, BytesMut};
use futures::{FutureExt, StreamExt, future::BoxFuture, stream};
use http_body::Frame;
use http_body_util::{BodyExt, BodyStream, Full, StreamBody};
use tonic::{body::Body, transport::Channel};
use tower::{Service, ServiceExt};

use super::{RetryOutcome, guard::Shared};

/// How many times one call is sent again at most.
pub(crate) const MAX_RESENDS: usize = 2;

/// The tonic channel, sending again the calls it dropped unsent.
#[derive(Clone)]
pub(crate) struct Resend {
    channel: Channel,
    shared: Arc<Shared>,
}

impl Resend {
    pub(crate) fn new(channel: Channel, shared: Arc<Shared>) -> Self {
        Self { channel, shared }
    }
}

impl Service<http::Request<Body>> for Resend {
    type Response = http::Response<Body>;
    type Error = tonic::transport::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.channel.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let (head, body) = request.into_parts();
        let message = match whole(body) {
            Ok(message) => message,
            Err(body) => return Box::pin(self.channel.call(http::Request::from_parts(head, body))),
        };
        let first = self
            .channel
            .call(http::Request::from_parts(head.clone(), replay(&message)));
        let (channel, shared) = (self.channel.clone(), Arc::clone(&self.shared));
        Box::pin(async move {
            let mut answer = first.await;
            for _ in 0..MAX_RESENDS {
                match &answer {
                    Err(error) if never_sent(error) => {}
                    _ => break,
                }
                shared.metrics.retry(RetryOutcome::ResentUnsent);
                tracing::debug!(
                    peer = shared.guards.peer,
                    path = head.uri.path(),
                    "Sending again a call its connection dropped unsent."
                );
                let again = http::Request::from_parts(head.clone(), replay(&message));
                answer = channel.clone().oneshot(again).await;
            }
            answer
        })
    }
}

/// A request body of the same bytes.
fn replay(message: &Bytes) -> Body {
    Body::new(Full::new(message.clone()))
}

/// The body's bytes when the whole body is ready now (tonic encodes a
/// request's single message as soon as it is polled); otherwise the body
/// again, unchanged for whoever reads it (a streaming request, or one that
/// failed to encode: its error comes through).
fn whole(mut body: Body) -> Result<Bytes, Body> {
    let mut data = BytesMut::new();
    let mut read: Vec<Result<Frame<Bytes>, tonic::Status>> = Vec::new();
    loop {
        // `None` is a body that would wait: a stream still being written.
        let Some(next) = body.frame().now_or_never() else {
            break;
        };
        match next {
            None => return Ok(data.freeze()),
            Some(Ok(frame)) if frame.is_data() => {
                if let Ok(chunk) = frame.into_data() {
                    data.extend_from_slice(&chunk);
                    read.push(Ok(Frame::data(chunk)));
                }
            }
            // Trailers or an error: not a plain message; hand it on as read.
            Some(frame) => {
                read.push(frame);
                break;
            }
        }
    }
    let rest = BodyStream::new(body);
    Err(Body::new(StreamBody::new(stream::iter(read).chain(rest))))
}

/// Whether `error` says the call never reached the server (see the module
/// docs); a call that may have reached it is never sent again.
pub(crate) fn never_sent(error: &(dyn StdError + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(error) = source {
        if let Some(hyper) = error.downcast_ref::<hyper::Error>()
            && hyper.is_canceled()
        {
            return true;
        }
        if let Some(h2) = error.downcast_ref::<h2::Error>() {
            return refused_unprocessed(h2);
        }
        source = error.source();
    }
    false
}

/// An HTTP/2 error that says the server did not process the stream: it was
/// refused (`REFUSED_STREAM`), or cut by a graceful GOAWAY, which only ever
/// cuts streams the server has not started on (and those the client had not
/// sent).
fn refused_unprocessed(error: &h2::Error) -> bool {
    let graceful_go_away =
        error.is_go_away() && error.is_remote() && error.reason() == Some(h2::Reason::NO_ERROR);
    graceful_go_away || error.reason() == Some(h2::Reason::REFUSED_STREAM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_single_message_body_is_whole_and_replays_the_same_bytes() {
        let message = Bytes::from_static(b"\0\0\0\0\x03abc");
        let bytes = whole(replay(&message)).unwrap();
        assert_eq!(bytes, message);
        let again = replay(&bytes).collect().await.unwrap().to_bytes();
        assert_eq!(again, message);
    }

    #[tokio::test]
    async fn a_body_still_being_written_passes_through_whole() {
        let (sender, receiver) =
            tokio::sync::mpsc::channel::<Result<Frame<Bytes>, tonic::Status>>(2);
        sender
            .send(Ok(Frame::data(Bytes::from_static(b"first"))))
            .await
            .unwrap();
        let body = Body::new(StreamBody::new(
            tokio_stream::wrappers::ReceiverStream::new(receiver),
        ));
        let body = whole(body).unwrap_err();
        sender
            .send(Ok(Frame::data(Bytes::from_static(b", then more"))))
            .await
            .unwrap();
        drop(sender);
        let read = body.collect().await.unwrap().to_bytes();
        assert_eq!(read, Bytes::from_static(b"first, then more"));
    }

    #[test]
    fn only_errors_of_calls_that_never_reached_the_server_are_resent() {
        let refused = h2::Error::from(h2::Reason::REFUSED_STREAM);
        assert!(never_sent(&refused));
        // A reset after the server started (CANCEL, INTERNAL_ERROR) may have
        // done something: never resent.
        assert!(!never_sent(&h2::Error::from(h2::Reason::CANCEL)));
        assert!(!never_sent(&h2::Error::from(h2::Reason::INTERNAL_ERROR)));
        let io = std::io::Error::new(std::io::ErrorKind::BrokenPipe, "gone");
        assert!(!never_sent(&io));
        // Wrapped, as the channel hands it up.
        assert!(never_sent(&Wrapped(refused)));
        assert!(!never_sent(&Wrapped(h2::Error::from(h2::Reason::CANCEL))));
    }

    #[derive(Debug)]
    struct Wrapped(h2::Error);

    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("transport error")
        }
    }

    impl StdError for Wrapped {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }
}
