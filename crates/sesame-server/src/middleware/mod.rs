//! The middleware of `sesame serve`, one job per module, in the order a
//! request meets them ([`stack`] builds them in that order):
//!
//! | # | module | job |
//! | --- | --- | --- |
//! | 1 | [`access_log`] | one log event per request: method, route template, status, latency, error code — never headers, so never a token or a key |
//! | 2 | [`keep_alive`] | `Keep-Alive: timeout=N` (the idle lifetime, `limits.header_read_timeout`) on answers that keep the connection, so clients retire idle connections before the server closes them |
//! | 3 | [`close_unread`] | an answer sent before the request's body was read to its end says `Connection: close` |
//! | 4 | [`header_limit`] | headers over `limits.max_header_bytes`: 431 |
//! | 5 | [`concurrency`] | `/v1` requests share `limits.max_concurrency` permits; one that waits longer than `limits.queue_timeout` gets 503 `overloaded` (health, metrics and the document are outside the limit) |
//! | 6 | [`timeout`] | a request that takes longer than `limits.request_timeout`: 503 `timeout` |
//! | 7 | [`no_store`] | `Cache-Control: no-store` on every `/v1` answer (they carry tokens, cookies and session data) |
//! | 8 | [`store_errors`] | store failures counted in `sesame_store_errors_total` |
//! | 9 | [`clear_cookie`] | a 401 refusing a session the request presented carries `clear_cookie` (D2) |
//! | 10 | [`token_guard`] | invalid session credentials counted per caller; a blocked caller's invalid ones get 429 (see [`crate::probing`]) |
//!
//! Connection-level limits (a cap on open connections, the header-read
//! timeout) are [`crate::serving`]'s; the body's size and deadline are
//! [`crate::api::JsonBody`]'s, where the body is read.
//!
//! The stack is applied with `Router::layer`, so each layer runs inside the
//! router and sees the matched route ([`axum::extract::MatchedPath`]).
//!
//! Most layers only look at the request before and the response after the
//! inner service, with nothing to wait for: those are [`Step`]s, run by one
//! generic [`StepLayer`] whose future is the inner one plus a note, with no
//! allocation (the old single `from_fn` cost a boxed future and a boxed
//! service per request; at ~8 µs per validate in process each allocation is
//! measurable — docs/BENCHMARKS.md). Only [`concurrency`] and [`timeout`]
//! wait, and are tower services of their own.

pub mod access_log;
pub mod clear_cookie;
pub mod close_unread;
pub mod concurrency;
pub mod header_limit;
pub mod keep_alive;
pub mod no_store;
pub mod store_errors;
pub mod timeout;
pub mod token_guard;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::Router;
use axum::extract::Request;
use axum::response::Response;
use tower::{Layer, Service, ServiceBuilder};

use crate::api::Shared;

/// The routes with the whole stack, in request order (see the module docs).
pub fn stack(routes: Router, state: &Shared) -> Router {
    routes.layer(
        ServiceBuilder::new()
            .layer(StepLayer(access_log::AccessLog))
            .layer(StepLayer(keep_alive::KeepAlive::new(
                state.limits.header_read_timeout.0,
            )))
            .layer(StepLayer(close_unread::CloseUnread))
            .layer(StepLayer(header_limit::HeaderLimit::new(
                state.limits.max_header_bytes,
            )))
            .layer(concurrency::ConcurrencyLayer::new(state))
            .layer(timeout::TimeoutLayer::new(state.limits.request_timeout.0))
            .layer(StepLayer(no_store::NoStore))
            .layer(StepLayer(store_errors::StoreErrors::new(state)))
            .layer(StepLayer(clear_cookie::ClearCookie::new(state)))
            .layer(StepLayer(token_guard::TokenGuard::new(state))),
    )
}

/// The future of a layer that waits ([`concurrency`], [`timeout`]).
pub type BoxFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

/// A middleware that looks at the request before the inner service and at
/// the response after it, without waiting for anything itself.
pub trait Step: Clone + Send + Sync + 'static {
    /// What [`Step::before`] hands to [`Step::after`].
    type Note: Send + 'static;

    /// Sees (and may change) the request. `Err` answers at once, without
    /// calling the inner service.
    ///
    /// # Errors
    /// The response to send instead of calling the inner service.
    // An early answer is the rare path, and a `Response` is what it is.
    #[allow(clippy::result_large_err)]
    fn before(&self, req: &mut Request) -> Result<Self::Note, Response>;

    /// Sees (and may change or replace) the inner service's response.
    fn after(&self, note: Self::Note, response: Response) -> Response;
}

/// The tower layer of a [`Step`].
#[derive(Debug, Clone)]
pub struct StepLayer<T>(pub T);

impl<T: Step, S> Layer<S> for StepLayer<T> {
    type Service = StepService<T, S>;

    fn layer(&self, inner: S) -> Self::Service {
        StepService {
            step: self.0.clone(),
            inner,
        }
    }
}

/// The tower service of a [`Step`].
#[derive(Debug, Clone)]
pub struct StepService<T, S> {
    step: T,
    inner: S,
}

impl<T, S> Service<Request> for StepService<T, S>
where
    T: Step,
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = StepFuture<T, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        match self.step.before(&mut req) {
            Ok(note) => StepFuture {
                future: Some(self.inner.call(req)),
                step: Some((self.step.clone(), note)),
                answered: None,
            },
            Err(response) => StepFuture {
                future: None,
                step: None,
                answered: Some(response),
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of a [`StepService`]: the inner service's, then
    /// [`Step::after`]; or the answer [`Step::before`] gave at once.
    pub struct StepFuture<T: Step, F> {
        #[pin]
        future: Option<F>,
        step: Option<(T, T::Note)>,
        answered: Option<Response>,
    }
}

impl<T, F> Future for StepFuture<T, F>
where
    T: Step,
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(response) = this.answered.take() {
            return Poll::Ready(Ok(response));
        }
        let Some(future) = this.future.as_pin_mut() else {
            unreachable!("a StepFuture is not polled after it is ready")
        };
        let Ok(response) = std::task::ready!(future.poll(cx));
        let Some((step, note)) = this.step.take() else {
            unreachable!("a StepFuture is not polled after it is ready")
        };
        Poll::Ready(Ok(step.after(note, response)))
    }
}
