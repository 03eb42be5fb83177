//! A handler that panics answers an opaque 500 problem, and the connection goes on serving.
//!
//! `tower_http::catch_panic` does the same, but boxes every response's body to make room for
//! its own; here the answer is the rest of the stack's own [`Response`], unboxed.

use std::{
    any::Any,
    convert::Infallible,
    future::Future,
    panic::{AssertUnwindSafe, catch_unwind},
    pin::Pin,
    task::{Context, Poll, ready},
};

use axum::{
    extract::Request,
    response::{IntoResponse, Response},
};
use futures::{FutureExt as _, future::CatchUnwind};
use tower::{Layer, Service};

use super::ApiError;

/// Catches panics of the service it wraps, in its `call` and in its future.
#[derive(Clone, Copy)]
pub(crate) struct CatchPanicLayer;

impl<S> Layer<S> for CatchPanicLayer {
    type Service = CatchPanic<S>;

    fn layer(&self, inner: S) -> CatchPanic<S> {
        CatchPanic(inner)
    }
}

/// A service whose panics become [`panic_response`]s (see [`CatchPanicLayer`]).
#[derive(Clone)]
pub(crate) struct CatchPanic<S>(S);

impl<S> Service<Request> for CatchPanic<S>
where
    S: Service<Request, Error = Infallible>,
    S::Response: IntoResponse,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Caught<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        match catch_unwind(AssertUnwindSafe(|| self.0.call(request))) {
            Ok(future) => Caught::Running {
                future: AssertUnwindSafe(future).catch_unwind(),
            },
            Err(panic) => Caught::Panicked {
                response: Some(panic_response(panic)),
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// The answer of a [`CatchPanic`].
    #[project = CaughtProj]
    pub(crate) enum Caught<F> {
        Running { #[pin] future: CatchUnwind<AssertUnwindSafe<F>> },
        Panicked { response: Option<Response> },
    }
}

impl<F, R> Future for Caught<F>
where
    F: Future<Output = Result<R, Infallible>>,
    R: IntoResponse,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(Ok(match self.project() {
            CaughtProj::Running { future } => match ready!(future.poll(cx)) {
                Ok(Ok(response)) => response.into_response(),
                Err(panic) => panic_response(panic),
            },
            CaughtProj::Panicked { response } => {
                response.take().expect("a Caught polled after it finished")
            }
        }))
    }
}

/// Turns a panic in a handler into an opaque 500, logged with the panic message.
pub(crate) fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "unknown panic".to_owned());
    ApiError::internal(anyhow::anyhow!("handler panicked: {message}")).into_response()
}

#[cfg(test)]
mod tests {
    use axum::{Router, body::Body, http::StatusCode, routing::get};
    use tower::ServiceExt as _;

    use super::*;
    use crate::error::Problem;

    #[test]
    fn a_panic_becomes_an_opaque_500_problem() {
        let response = panic_response(Box::new("index out of bounds: secret detail".to_owned()));
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let problem = response
            .extensions()
            .get::<Problem>()
            .expect("rendered as a problem");
        assert_eq!(problem.code, "internal-error");
        assert!(
            !problem.detail.contains("secret detail"),
            "{}",
            problem.detail
        );
    }

    async fn answer(app: Router, path: &str) -> Response {
        let request = Request::get(path).body(Body::empty()).unwrap();
        app.layer(CatchPanicLayer).oneshot(request).await.unwrap()
    }

    #[tokio::test]
    async fn a_handler_that_panics_answers_500_and_one_that_does_not_its_own_answer() {
        async fn boom() -> &'static str {
            panic!("secret detail")
        }
        let app = Router::new()
            .route("/boom", get(boom))
            .route("/fine", get(|| async { "fine" }));
        let panicked = answer(app.clone(), "/boom").await;
        assert_eq!(panicked.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(panicked.extensions().get::<Problem>().is_some());
        assert_eq!(answer(app, "/fine").await.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn a_service_that_panics_when_called_answers_500() {
        let panics_on_call = tower::service_fn(
            |_: Request| -> std::future::Ready<Result<Response, Infallible>> {
                panic!("secret detail")
            },
        );
        let service = CatchPanicLayer.layer(panics_on_call);
        let request = Request::get("/").body(Body::empty()).unwrap();
        let Ok::<_, Infallible>(response) = service.oneshot(request).await;
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
