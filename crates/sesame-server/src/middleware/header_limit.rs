//! Request headers over `limits.max_header_bytes` in total (names, values and
//! 4 bytes of separators each) are answered 431 `headers_too_large` before
//! anything else looks at them. hyper's own read buffer bounds them earlier
//! and more coarsely (see [`crate::serving`]).

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::Step;
use crate::error::{ApiError, ErrorCode};

/// The header size step.
#[derive(Debug, Clone, Copy)]
pub struct HeaderLimit {
    max_bytes: usize,
}

impl HeaderLimit {
    /// Refuses headers over `max_bytes` in total.
    pub fn new(max_bytes: usize) -> Self {
        Self { max_bytes }
    }
}

impl Step for HeaderLimit {
    type Note = ();

    fn before(&self, req: &mut Request) -> Result<(), Response> {
        let bytes: usize = req
            .headers()
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len() + 4)
            .sum();
        if bytes > self.max_bytes {
            return Err(ApiError::new(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                ErrorCode::HeadersTooLarge,
                format!("request headers are over {} bytes", self.max_bytes),
            )
            .into_response());
        }
        Ok(())
    }

    fn after(&self, (): (), response: Response) -> Response {
        response
    }
}
