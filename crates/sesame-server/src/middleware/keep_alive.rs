//! `Keep-Alive: timeout=N` on every answer that leaves the connection open.
//!
//! Why: the server closes an idle keep-alive connection after
//! `limits.header_read_timeout` (hyper uses one timer for both). A client
//! whose pool keeps idle connections as long or longer races that close: it
//! sends a request on a connection the server is closing and gets a reset,
//! which for a non-idempotent call (create, validate, increment) it must not
//! retry. Saying how long an idle connection lives lets clients that honour
//! the header (Node's fetch/undici, many proxies) retire connections first;
//! sesame's Python client keeps its own expiry below the default.

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::response::Response;

use super::Step;

/// The keep-alive step.
#[derive(Debug, Clone)]
pub struct KeepAlive {
    value: HeaderValue,
}

impl KeepAlive {
    /// Announces an idle lifetime of `idle` (whole seconds, at least 1).
    pub fn new(idle: std::time::Duration) -> Self {
        let secs = idle.as_secs().max(1);
        let value = HeaderValue::try_from(format!("timeout={secs}"))
            .unwrap_or(HeaderValue::from_static("timeout=1"));
        Self { value }
    }
}

impl Step for KeepAlive {
    type Note = ();

    fn before(&self, _req: &mut Request) -> Result<(), Response> {
        Ok(())
    }

    fn after(&self, (): (), mut response: Response) -> Response {
        let closing = response
            .headers()
            .get(header::CONNECTION)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        if !closing {
            response.headers_mut().insert(
                header::HeaderName::from_static("keep-alive"),
                self.value.clone(),
            );
        }
        response
    }
}
