//! `Cache-Control: no-store` on every `/v1` answer: they carry session
//! tokens, cookie values and session data, which no cache between the app
//! and sesame (or a misconfigured one in front of it) may keep. Errors too:
//! an answer that is sometimes a token must never be cacheable by status.

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::response::Response;

use super::Step;

/// The no-store step.
#[derive(Debug, Clone, Copy)]
pub struct NoStore;

impl Step for NoStore {
    /// Whether the request is under `/v1`.
    type Note = bool;

    fn before(&self, req: &mut Request) -> Result<bool, Response> {
        Ok(req.uri().path().starts_with("/v1/"))
    }

    fn after(&self, v1: bool, mut response: Response) -> Response {
        if v1 {
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        response
    }
}
