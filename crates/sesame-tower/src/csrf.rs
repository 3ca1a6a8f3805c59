//! CSRF protection: two independent checks on every unsafe request (POST, PUT, PATCH, DELETE,
//! and any other method that is not GET, HEAD, OPTIONS or TRACE).
//!
//! 1. **Where it comes from.** `Sec-Fetch-Site` (sent by every current browser) must be
//!    `same-origin` or `none` (`same-site` only if allowed: a sibling subdomain is another
//!    party). Without it (older browsers), an `Origin` header must name this host (or a
//!    configured origin), and `Origin: null` is refused. `Sec-Fetch-Site` wins when present
//!    because browsers send `Origin: null` on same-origin form posts under
//!    `Referrer-Policy: no-referrer`. A request with neither header (an old client, curl)
//!    passes on to check 2.
//! 2. **The synchronizer token.** The session's token (kept in its data under
//!    [`CSRF_KEY`], replaced on login and rotation) must come back in the
//!    `X-CSRF-Token` header or, for `application/x-www-form-urlencoded` bodies, in the form field
//!    `csrf_token`. Compared in constant time. A form body is read up to a size limit (64 KiB by
//!    default) and put back for the handler.
//!
//! `SameSite=Strict` already keeps the cookie off cross-site requests; these checks are the
//! defence in depth OWASP asks for (browsers without SameSite, same-site attackers on sibling
//! subdomains). Requests that carry the token in a header ([`crate::HeaderTransport`]) are not
//! checked: a browser never attaches that header by itself. Paths can be exempted (webhooks).

use axum::body::Body;
use axum::http::{HeaderName, Method, header, request::Parts};
use http_body_util::BodyExt;
use subtle::ConstantTimeEq;

use crate::SessionError;
use crate::session::{CSRF_KEY, Session};

/// CSRF settings. Build with `with_*`.
#[derive(Debug, Clone)]
pub struct CsrfConfig {
    header: HeaderName,
    field: String,
    exempt: Vec<String>,
    allowed_origins: Vec<String>,
    allow_same_site: bool,
    body_limit: usize,
}

impl Default for CsrfConfig {
    fn default() -> Self {
        Self {
            header: HeaderName::from_static("x-csrf-token"),
            field: "csrf_token".to_owned(),
            exempt: Vec::new(),
            allowed_origins: Vec::new(),
            allow_same_site: false,
            body_limit: 64 * 1024,
        }
    }
}

impl CsrfConfig {
    /// The defaults: header `X-CSRF-Token`, form field `csrf_token`, no exemption, same-origin
    /// only, 64 KiB form limit.
    pub fn new() -> Self {
        Self::default()
    }
    /// The request header that carries the token.
    pub fn with_header(mut self, name: HeaderName) -> Self {
        self.header = name;
        self
    }
    /// The form field that carries the token.
    pub fn with_field(mut self, name: impl Into<String>) -> Self {
        self.field = name.into();
        self
    }
    /// Exempts every path that starts with `prefix` (e.g. `/webhooks/`).
    pub fn with_exempt_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.exempt.push(prefix.into());
        self
    }
    /// Accepts requests whose `Origin` is exactly `origin` (e.g. `https://app.example.com`).
    pub fn with_allowed_origin(mut self, origin: impl Into<String>) -> Self {
        self.allowed_origins.push(origin.into());
        self
    }
    /// Accepts `Sec-Fetch-Site: same-site` (sibling subdomains) — off by default.
    pub fn with_same_site_allowed(mut self, allow: bool) -> Self {
        self.allow_same_site = allow;
        self
    }
    /// The largest form body read to find the token.
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    fn applies(&self, parts: &Parts) -> bool {
        let safe = matches!(
            parts.method,
            Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
        );
        !safe && !self.exempt.iter().any(|p| parts.uri.path().starts_with(p))
    }

    fn check_origin(&self, parts: &Parts) -> Result<(), SessionError> {
        let headers = &parts.headers;
        if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
            // Set by the browser itself (a forbidden header name): when present it decides.
            // `Origin` is then not consulted: under `Referrer-Policy: no-referrer` browsers send
            // `Origin: null` even for same-origin form posts.
            return match site.to_ascii_lowercase().as_str() {
                "same-origin" | "none" => Ok(()),
                "same-site" if self.allow_same_site => Ok(()),
                _ => Err(SessionError::Csrf("cross_site")),
            };
        }
        let Some(origin) = headers.get(header::ORIGIN) else {
            return Ok(());
        };
        let origin = origin
            .to_str()
            .map_err(|_| SessionError::Csrf("origin_mismatch"))?;
        if self.allowed_origins.iter().any(|o| o == origin) {
            return Ok(());
        }
        let origin_host = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"))
            .ok_or(SessionError::Csrf("origin_mismatch"))?;
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| parts.uri.authority().map(|a| a.as_str()))
            .ok_or(SessionError::Csrf("origin_mismatch"))?;
        if origin_host.eq_ignore_ascii_case(host) {
            Ok(())
        } else {
            Err(SessionError::Csrf("origin_mismatch"))
        }
    }
}

/// Runs both checks; returns the body (read and put back if it was a form).
pub(crate) async fn check(
    cfg: &CsrfConfig,
    session: &Session,
    parts: &Parts,
    body: Body,
) -> Result<Body, SessionError> {
    if !cfg.applies(parts) {
        return Ok(body);
    }
    cfg.check_origin(parts)?;
    let expected = match session.get::<String>(CSRF_KEY).await {
        Ok(Some(token)) => token,
        Ok(None) => {
            return Err(SessionError::Csrf(if session.exists().await? {
                "token_missing"
            } else {
                "no_session"
            }));
        }
        Err(e) => return Err(e),
    };
    if let Some(given) = parts.headers.get(&cfg.header) {
        return if equal(given.as_bytes(), expected.as_bytes()) {
            Ok(body)
        } else {
            Err(SessionError::Csrf("token_mismatch"))
        };
    }
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.split(';').next().is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
    if !is_form {
        return Err(SessionError::Csrf("token_missing"));
    }
    let bytes = http_body_util::Limited::new(body, cfg.body_limit)
        .collect()
        .await
        .map_err(|_| SessionError::Csrf("body_too_large"))?
        .to_bytes();
    let given = form_urlencoded::parse(&bytes)
        .find(|(k, _)| *k == cfg.field)
        .map(|(_, v)| v.into_owned());
    match given {
        Some(given) if equal(given.as_bytes(), expected.as_bytes()) => Ok(Body::from(bytes)),
        Some(_) => Err(SessionError::Csrf("token_mismatch")),
        None => Err(SessionError::Csrf("token_missing")),
    }
}

fn equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}
