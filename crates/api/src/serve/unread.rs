//! An answer given before the request's body was read says `Connection: close`.
//!
//! hyper writes an answer as soon as the router returns it. A body nobody read — a request
//! rejected by authentication, a limit or a permission, an unsupported media type, a body over
//! the limit — is then discarded only if it has already arrived; otherwise hyper closes the
//! connection after an answer that announced keep-alive, and a client that sends its next
//! request on it loses that request. Marked `Connection: close`, the answer tells the client to
//! open a new connection instead. Bodies read to their end keep the connection.

use std::{
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
};

use axum::{
    body::{Body, Bytes, HttpBody},
    http::{HeaderValue, Request, Response, header},
};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;

/// Whether a request's body was read to its end; absent for a request without a body.
pub(super) struct BodyRead(Option<Arc<AtomicBool>>);

impl BodyRead {
    /// The request with its body watched.
    pub(super) fn watch(request: Request<Incoming>) -> (Request<Body>, Self) {
        if request.body().is_end_stream() {
            return (request.map(Body::new), Self(None));
        }
        let read = Arc::new(AtomicBool::new(false));
        let watched = request.map(|body| {
            Body::new(Watched {
                body,
                read: read.clone(),
            })
        });
        (watched, Self(Some(read)))
    }

    /// `response`, with `Connection: close` if the request's body was not read to its end.
    pub(super) fn mark<B>(self, mut response: Response<B>) -> Response<B> {
        if let Some(read) = self.0
            && !read.load(Ordering::Acquire)
        {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

/// A request body that records reaching its end.
struct Watched {
    body: Incoming,
    read: Arc<AtomicBool>,
}

impl HttpBody for Watched {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.body.is_end_stream() {
            self.read.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
