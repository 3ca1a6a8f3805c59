//! One log event per request: method, route template, status, latency in
//! microseconds and error code. Never headers, so never a token or an API
//! key; never the path itself, whose `{user}` segment is a user id.
//!
//! The event is at debug level, or warn for 5xx. It replaces tower-http's
//! `TraceLayer`, whose span and body wrapper per request cost ~10% of
//! validate throughput. Outermost, so the latency includes the wait for a
//! concurrency permit and every answer of the layers below is logged.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::response::Response;

use super::Step;
use crate::error::ErrorCode;

/// The access log step.
#[derive(Debug, Clone, Copy)]
pub struct AccessLog;

/// What the request contributes to its log event.
#[derive(Debug)]
pub struct Started {
    at: Instant,
    method: Method,
    route: Option<MatchedPath>,
}

impl Step for AccessLog {
    type Note = Started;

    fn before(&self, req: &mut Request) -> Result<Started, Response> {
        Ok(Started {
            at: Instant::now(),
            method: req.method().clone(),
            route: req.extensions().get::<MatchedPath>().cloned(),
        })
    }

    fn after(&self, started: Started, response: Response) -> Response {
        let Started { at, method, route } = started;
        let code = response.extensions().get::<ErrorCode>().map(|c| c.as_str());
        let status = response.status().as_u16();
        let route = route.as_ref().map_or("-", MatchedPath::as_str);
        let micros = u64::try_from(at.elapsed().as_micros()).unwrap_or(u64::MAX);
        if status >= 500 {
            tracing::warn!(%method, route, status, micros, code, "request");
        } else {
            tracing::debug!(%method, route, status, micros, code, "request");
        }
        response
    }
}
