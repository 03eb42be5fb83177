//! Middleware that looks at a request on its way in and at its answer on the way out, as a plain
//! tower service.
//!
//! `axum::middleware::from_fn` is the easy way to write such a step, but each one costs every
//! request a clone of the rest of the stack behind a new box, a boxed future and a boxed call:
//! three allocations, and the futures of everything inside copied into them. An [`Around`] is
//! the same two halves — [`Around::before`] keeps what it needs of the request, [`Around::after`]
//! gets it back with the response — and its future is the inner one plus that, with no box.

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    task::{Context, Poll, ready},
};

use axum::{
    extract::Request,
    response::{IntoResponse, Response},
};
use tower::{Layer, Service};

/// The two halves of a step around every request.
pub(crate) trait Around: Clone + Send + Sync + 'static {
    /// What [`Around::before`] keeps of the request for [`Around::after`]; dropped unused when
    /// the request is (a client that went away), so a guard in it always runs.
    type Kept: Send + 'static;

    /// Looks at the request before the rest of the stack gets it.
    fn before(&self, request: &Request) -> Self::Kept;

    /// Looks at, or replaces, the answer of the rest of the stack.
    fn after(kept: Self::Kept, response: Response) -> Response;
}

/// Puts an [`Around`] in front of a service.
#[derive(Clone)]
pub(crate) struct AroundLayer<A>(pub(crate) A);

impl<S, A: Clone> Layer<S> for AroundLayer<A> {
    type Service = AroundService<S, A>;

    fn layer(&self, inner: S) -> Self::Service {
        AroundService {
            inner,
            around: self.0.clone(),
        }
    }
}

/// A service with an [`Around`] in front of it (see [`AroundLayer`]).
#[derive(Clone)]
pub(crate) struct AroundService<S, A> {
    inner: S,
    around: A,
}

impl<S, A> Service<Request> for AroundService<S, A>
where
    S: Service<Request, Error = Infallible>,
    S::Response: IntoResponse,
    A: Around,
{
    type Response = Response;
    type Error = Infallible;
    type Future = AroundFuture<S::Future, A::Kept, A>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let kept = self.around.before(&request);
        AroundFuture {
            inner: self.inner.call(request),
            kept: Some(kept),
            around: std::marker::PhantomData,
        }
    }
}

pin_project_lite::pin_project! {
    /// The answer of an [`AroundService`]: the inner future, then [`Around::after`].
    pub(crate) struct AroundFuture<F, K, A> {
        #[pin]
        inner: F,
        kept: Option<K>,
        around: std::marker::PhantomData<fn() -> A>,
    }
}

impl<F, R, A> Future for AroundFuture<F, A::Kept, A>
where
    F: Future<Output = Result<R, Infallible>>,
    R: IntoResponse,
    A: Around,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(response) = ready!(this.inner.poll(cx));
        let kept = this
            .kept
            .take()
            .expect("an AroundFuture polled after it finished");
        Poll::Ready(Ok(A::after(kept, response.into_response())))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };

    use axum::{Router, body::Body, http::HeaderValue, routing::get};
    use tower::ServiceExt as _;

    use super::*;

    /// Counts requests in flight, and echoes the request's path in a header of the answer.
    #[derive(Clone, Default)]
    struct Probe(Arc<AtomicUsize>);

    struct Kept {
        path: String,
        in_flight: Arc<AtomicUsize>,
    }

    impl Drop for Kept {
        fn drop(&mut self) {
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
    }

    impl Around for Probe {
        type Kept = Kept;

        fn before(&self, request: &Request) -> Kept {
            self.0.fetch_add(1, Ordering::SeqCst);
            Kept {
                path: request.uri().path().to_owned(),
                in_flight: self.0.clone(),
            }
        }

        fn after(kept: Kept, mut response: Response) -> Response {
            let path = HeaderValue::from_str(&kept.path).unwrap();
            response.headers_mut().insert("x-path", path);
            response
        }
    }

    #[tokio::test]
    async fn before_sees_the_request_and_after_the_answer() {
        let probe = Probe::default();
        let app = Router::new()
            .route("/hello", get(|| async { "hi" }))
            .layer(AroundLayer(probe.clone()));
        let request = Request::get("/hello").body(Body::empty()).unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.headers()["x-path"], "/hello");
        assert_eq!(probe.0.load(Ordering::SeqCst), 0, "the guard in Kept ran");
    }

    #[tokio::test]
    async fn what_before_kept_is_released_when_the_request_is_dropped() {
        let probe = Probe::default();
        let app = Router::new()
            .route("/never", get(std::future::pending::<&'static str>))
            .layer(AroundLayer(probe.clone()));
        let request = Request::get("/never").body(Body::empty()).unwrap();
        let mut call = Box::pin(app.oneshot(request));
        assert!(futures::poll!(call.as_mut()).is_pending());
        assert_eq!(probe.0.load(Ordering::SeqCst), 1, "in flight while it runs");
        drop(call);
        assert_eq!(
            probe.0.load(Ordering::SeqCst),
            0,
            "released with the request"
        );
    }
}
