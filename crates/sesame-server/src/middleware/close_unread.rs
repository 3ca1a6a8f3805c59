//! An answer sent before the request's body was read to its end says
//! `Connection: close`.
//!
//! Why: HTTP/1.1 cannot start the next request on a connection until the
//! current body has been consumed. When a layer or extractor answers early —
//! 413, 401 for a missing API key, a 429, a 503 while waiting for a permit —
//! hyper drains what has already arrived and otherwise closes the connection
//! *after* the answer, without saying so; a client that reuses the
//! connection then fails its next request (seen in CI). Saying `Connection:
//! close` sends that request to a fresh connection instead.
//!
//! How: a request that has a body gets it wrapped in [`Tracked`], which notes
//! when its end has been read; a request without one (GET, DELETE, an empty
//! POST) is left alone.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::response::Response;

use super::Step;

/// The close-unread step.
#[derive(Debug, Clone, Copy)]
pub struct CloseUnread;

impl Step for CloseUnread {
    /// Set once the body has been read to its end; `None`: no body.
    type Note = Option<Arc<AtomicBool>>;

    fn before(&self, req: &mut Request) -> Result<Self::Note, Response> {
        if req.body().is_end_stream() {
            return Ok(None);
        }
        let read = Arc::new(AtomicBool::new(false));
        let body = std::mem::take(req.body_mut());
        *req.body_mut() = Body::new(Tracked {
            inner: body,
            read: Arc::clone(&read),
        });
        Ok(Some(read))
    }

    fn after(&self, read: Self::Note, mut response: Response) -> Response {
        if read.is_some_and(|read| !read.load(Ordering::Acquire)) {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

pin_project_lite::pin_project! {
    /// A request body that notes when its end has been read.
    pub struct Tracked {
        #[pin]
        inner: Body,
        read: Arc<AtomicBool>,
    }
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let this = self.project();
        let frame = std::task::ready!(this.inner.poll_frame(cx));
        if frame.is_none() {
            this.read.store(true, Ordering::Release);
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        let end = self.inner.is_end_stream();
        if end {
            self.read.store(true, Ordering::Release);
        }
        end
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
