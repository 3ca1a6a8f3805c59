//! A request that takes longer than `limits.request_timeout` (from the
//! moment it holds a concurrency permit) is answered 503 `timeout`, with
//! `Retry-After`. The handler's future is dropped, which cancels what it was
//! waiting for; a store may still apply a write it had already sent (the
//! server README, "Store faults").

use std::convert::Infallible;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};

use crate::error::{ApiError, ErrorCode};

/// The timeout layer.
#[derive(Debug, Clone, Copy)]
pub struct TimeoutLayer {
    limit: Duration,
}

impl TimeoutLayer {
    /// Answers 503 `timeout` after `limit`.
    pub fn new(limit: Duration) -> Self {
        Self { limit }
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Timeout {
            limit: self.limit,
            inner,
        }
    }
}

/// The timeout service.
#[derive(Debug, Clone)]
pub struct Timeout<S> {
    limit: Duration,
    inner: S,
}

impl<S> Service<Request> for Timeout<S>
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
        let future = self.inner.call(req);
        let limit = self.limit;
        // An async block, so the clock starts at the first poll (after the
        // concurrency permit), not when the future is made.
        Box::pin(async move {
            match tokio::time::timeout(limit, future).await {
                Ok(response) => response,
                Err(_) => Ok(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::Timeout,
                    "the request took too long",
                )
                .into_response()),
            }
        })
    }
}
