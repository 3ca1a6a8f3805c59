//! One concurrency limit for the whole `/v1` API: `limits.max_concurrency`
//! requests in flight, all routes together. A request that finds no free
//! permit waits at most `limits.queue_timeout`, then gets 503 `overloaded`
//! with `Retry-After`, so a stall (a slow store, clients trickling bodies)
//! turns into quick refusals rather than an ever longer queue.
//!
//! Health, readiness, metrics and the OpenAPI document are outside the
//! limit: an orchestrator must see a busy server as alive, and none of them
//! holds more than a store ping ([`crate::serving`]'s connection cap bounds
//! them).
//!
//! Why not tower's `GlobalConcurrencyLimitLayer`: it shares one semaphore as
//! meant here, but waits in `poll_ready` without a bound and has no answer of
//! its own to give; this layer is that semaphore (in
//! [`AppState::in_flight`](crate::api::AppState)) plus the bound. A free
//! permit is taken without a timer, so the common case costs one atomic
//! operation.

use std::convert::Infallible;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};

use crate::api::Shared;
use crate::error::{ApiError, ErrorCode};

/// The concurrency layer.
#[derive(Debug, Clone)]
pub struct ConcurrencyLayer {
    state: Shared,
    wait: Duration,
}

impl ConcurrencyLayer {
    /// Uses the state's permits and `limits.queue_timeout`.
    pub fn new(state: &Shared) -> Self {
        Self {
            state: state.clone(),
            wait: state.limits.queue_timeout.0,
        }
    }
}

impl<S> Layer<S> for ConcurrencyLayer {
    type Service = Concurrency<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Concurrency {
            layer: self.clone(),
            inner,
        }
    }
}

/// The concurrency service.
#[derive(Debug, Clone)]
pub struct Concurrency<S> {
    layer: ConcurrencyLayer,
    inner: S,
}

/// Whether a request counts against the limit: the `/v1` API.
fn limited(req: &Request) -> bool {
    req.extensions()
        .get::<MatchedPath>()
        .is_some_and(|route| route.as_str().starts_with("/v1/"))
}

/// 503 `overloaded`, with `Retry-After: 1` (every 503 has it).
fn overloaded(wait: Duration) -> Response {
    let mut response = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Overloaded,
        format!(
            "the server is at its concurrency limit and no request finished within {} ms; retry later",
            wait.as_millis()
        ),
    )
    .into_response();
    debug_assert!(response.headers().contains_key(header::RETRY_AFTER));
    response.extensions_mut().insert(Overloaded);
    response
}

/// Marks a 503 given because no permit was free (for tests and metrics).
#[derive(Debug, Clone, Copy)]
pub struct Overloaded;

impl<S> Service<Request> for Concurrency<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = super::BoxFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        if !limited(&req) {
            return Box::pin(self.inner.call(req));
        }
        // A future does nothing until polled: the layers below start (the
        // request timeout's clock included) once a permit is held.
        let future = self.inner.call(req);
        let state = self.layer.state.clone();
        let wait = self.layer.wait;
        Box::pin(async move {
            // The semaphore is never closed, so `acquire` cannot fail.
            let permit = match state.in_flight.try_acquire() {
                Ok(permit) => permit,
                Err(_) => match tokio::time::timeout(wait, state.in_flight.acquire()).await {
                    Ok(Ok(permit)) => permit,
                    Ok(Err(_)) | Err(_) => {
                        state.metrics.overloaded();
                        return Ok(overloaded(wait));
                    }
                },
            };
            let response = future.await;
            drop(permit);
            response
        })
    }
}
