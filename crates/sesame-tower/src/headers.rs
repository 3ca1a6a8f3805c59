//! Security headers: the classic recipe's set, brought up to current guidance (OWASP Secure
//! Headers Project, MDN).
//!
//! | header | default | why |
//! | --- | --- | --- |
//! | `Strict-Transport-Security` | `max-age=63072000; includeSubDomains` | HTTPS only, for two years |
//! | `X-Content-Type-Options` | `nosniff` | no MIME sniffing of responses into scripts |
//! | `X-Frame-Options` | `DENY` | no framing (clickjacking), for browsers without CSP level 2 |
//! | `Content-Security-Policy` | `default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'` | the modern anti-framing and anti-injection control |
//! | `Referrer-Policy` | `no-referrer` | URLs do not leak to other sites |
//! | `X-XSS-Protection` | `0` | see below |
//! | `Cache-Control` | `no-store` when the response sets a cookie | session pages are not cached by browsers or proxies (the [`SessionLayer`](crate::SessionLayer) adds it too, on every response that carried a session) |
//!
//! **Why `X-XSS-Protection: 0`.** The classic recipe sent `1; mode=block`. The browsers' XSS
//! auditors it controlled were removed (Chrome 78, Edge; Firefox never had one), and where they
//! existed they could be abused to delete legitimate scripts from a page and to leak data
//! cross-site (XS-Leaks). OWASP and MDN now advise `0` (turn any remaining auditor off) and a
//! Content-Security-Policy instead.
//!
//! A header the handler already set is left alone. Every header can be changed or turned off.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::http::{HeaderName, HeaderValue, Request, Response, header};
use tower_layer::Layer;
use tower_service::Service;

/// Adds security headers to every response. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SecurityHeadersLayer {
    headers: Vec<(HeaderName, HeaderValue)>,
    no_store_with_cookie: bool,
}

impl Default for SecurityHeadersLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl SecurityHeadersLayer {
    /// The recommended set (see the module docs).
    pub fn new() -> Self {
        let h = |name: HeaderName, value: &'static str| (name, HeaderValue::from_static(value));
        Self {
            headers: vec![
                h(
                    header::STRICT_TRANSPORT_SECURITY,
                    "max-age=63072000; includeSubDomains",
                ),
                h(header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                h(header::X_FRAME_OPTIONS, "DENY"),
                h(
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'",
                ),
                h(header::REFERRER_POLICY, "no-referrer"),
                h(header::X_XSS_PROTECTION, "0"),
            ],
            no_store_with_cookie: true,
        }
    }

    /// Sets a header (replacing the default value), or with `None` turns it off.
    pub fn with_header(mut self, name: HeaderName, value: Option<HeaderValue>) -> Self {
        self.headers.retain(|(n, _)| *n != name);
        if let Some(value) = value {
            self.headers.push((name, value));
        }
        self
    }

    /// Sets `Strict-Transport-Security` (`None`: off, e.g. for plain-HTTP development).
    pub fn with_hsts(self, value: Option<HeaderValue>) -> Self {
        self.with_header(header::STRICT_TRANSPORT_SECURITY, value)
    }

    /// Sets `Content-Security-Policy`; keep `frame-ancestors 'none'` unless framing is wanted.
    pub fn with_csp(self, value: Option<HeaderValue>) -> Self {
        self.with_header(header::CONTENT_SECURITY_POLICY, value)
    }

    /// Sets `Referrer-Policy`.
    pub fn with_referrer_policy(self, value: Option<HeaderValue>) -> Self {
        self.with_header(header::REFERRER_POLICY, value)
    }

    /// Sets `X-Frame-Options`.
    pub fn with_frame_options(self, value: Option<HeaderValue>) -> Self {
        self.with_header(header::X_FRAME_OPTIONS, value)
    }

    /// Whether a response with `Set-Cookie` gets `Cache-Control: no-store` (default on).
    pub fn with_no_store_on_cookies(mut self, on: bool) -> Self {
        self.no_store_with_cookie = on;
        self
    }

    /// The headers this layer sets.
    pub fn headers(&self) -> &[(HeaderName, HeaderValue)] {
        &self.headers
    }
}

impl<S> Layer<S> for SecurityHeadersLayer {
    type Service = SecurityHeaders<S>;
    fn layer(&self, inner: S) -> SecurityHeaders<S> {
        SecurityHeaders {
            inner,
            config: self.clone(),
        }
    }
}

/// The service of [`SecurityHeadersLayer`].
#[derive(Debug, Clone)]
pub struct SecurityHeaders<S> {
    inner: S,
    config: SecurityHeadersLayer,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SecurityHeaders<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<ResBody>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let future = self.inner.call(req);
        let config = self.config.clone();
        Box::pin(async move {
            let mut response = future.await?;
            let headers = response.headers_mut();
            for (name, value) in &config.headers {
                if !headers.contains_key(name) {
                    headers.insert(name.clone(), value.clone());
                }
            }
            if config.no_store_with_cookie
                && headers.contains_key(header::SET_COOKIE)
                && !headers.contains_key(header::CACHE_CONTROL)
            {
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            }
            Ok(response)
        })
    }
}
