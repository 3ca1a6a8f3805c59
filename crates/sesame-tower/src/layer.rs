//! The session layer: reads the token, hands the handler a lazy [`Session`], checks CSRF, and
//! after the handler commits the changes and writes `Set-Cookie` when the token changed.
//!
//! Per request, in order:
//! 1. In development mode, refuse any `Host` but localhost (the cookie is not Secure there).
//! 2. Find the token: the header transport if configured and used, else the cookie. Two cookies
//!    with the session's name are refused (`ambiguous_cookie`: cookie tossing). The value is
//!    opened with the key ring (Fernet MAC, maximum age = the policy's absolute lifetime): a
//!    forged value never reaches the store, and is counted in [`Metrics::forged_cookies`].
//! 3. CSRF (unsafe methods, cookie transport): Sec-Fetch-Site / Origin, then the synchronizer
//!    token (this loads the session).
//! 4. The handler runs; it may never touch the session (then no store call at all).
//! 5. Commit: the pending [`Patch`](sesame::Patch) in one `update` without a version (per-key
//!    patches never clobber other keys), or `create` if there was no session; then
//!    `Set-Cookie` only if the token changed (created, login, rotation, renewal); on logout the
//!    removal cookie and `Clear-Site-Data: "cookies"`; `Cache-Control: no-store` on any
//!    response that carried a session.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, header};
use axum::response::IntoResponse;
use sesame::cookie::{
    CookieError, CookiePolicy, KeyRing, find_session_cookie, open_session_cookie,
    seal_session_token,
};
use sesame::{DeviceInfo, Manager};
use tower_layer::Layer;
use tower_service::Service;

use crate::SessionError;
use crate::csrf::{self, CsrfConfig};
use crate::session::{Handle, Presented, Session};
use crate::transport::{HeaderTransport, TrustedProxies};

/// Counters a deployment can export: security signals and store traffic.
#[derive(Debug, Default)]
pub struct Metrics {
    forged: AtomicU64,
    ambiguous: AtomicU64,
    expired: AtomicU64,
    loads: AtomicU64,
    commits: AtomicU64,
    csrf_refused: AtomicU64,
}

impl Metrics {
    /// Cookies (or header tokens) that failed authentication: forged, tampered, wrong key.
    /// None of them reached the store.
    pub fn forged_cookies(&self) -> u64 {
        self.forged.load(Ordering::Relaxed)
    }
    /// Requests with two or more cookies of the session's name (cookie tossing).
    pub fn ambiguous_cookies(&self) -> u64 {
        self.ambiguous.load(Ordering::Relaxed)
    }
    /// Authentic cookies older than the absolute lifetime.
    pub fn expired_cookies(&self) -> u64 {
        self.expired.load(Ordering::Relaxed)
    }
    /// Session loads that asked the store.
    pub fn store_loads(&self) -> u64 {
        self.loads.load(Ordering::Relaxed)
    }
    /// Commits of changes (update or create).
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }
    /// Requests refused by the CSRF check.
    pub fn csrf_refused(&self) -> u64 {
        self.csrf_refused.load(Ordering::Relaxed)
    }
    pub(crate) fn count_load(&self) {
        self.loads.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn count_csrf(&self) {
        self.csrf_refused.fetch_add(1, Ordering::Relaxed);
    }
}

pub(crate) struct Shared {
    pub(crate) manager: Manager,
    pub(crate) keys: KeyRing,
    pub(crate) cookie: CookiePolicy,
    pub(crate) header: Option<HeaderTransport>,
    pub(crate) proxies: TrustedProxies,
    pub(crate) csrf: Option<CsrfConfig>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) no_store: bool,
}

/// The tower [`Layer`] that gives requests a [`Session`]. Cheap to clone.
#[derive(Clone)]
pub struct SessionLayer {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SessionLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionLayer")
            .field("cookie", &self.shared.cookie)
            .field("header", &self.shared.header)
            .field("csrf", &self.shared.csrf)
            .finish_non_exhaustive()
    }
}

impl SessionLayer {
    /// A layer over `manager` (any store), sealing cookies with `keys`, with the strict cookie
    /// policy (`__Host-sesame`, Secure, HttpOnly, SameSite=Strict), CSRF protection on, the
    /// header transport off and no trusted proxy.
    pub fn new(manager: Manager, keys: KeyRing) -> Self {
        Self {
            shared: Arc::new(Shared {
                manager,
                keys,
                cookie: CookiePolicy::new(),
                header: None,
                proxies: TrustedProxies::none(),
                csrf: Some(CsrfConfig::default()),
                metrics: Arc::new(Metrics::default()),
                no_store: true,
            }),
        }
    }

    fn edit(mut self, f: impl FnOnce(&mut Shared)) -> Self {
        match Arc::get_mut(&mut self.shared) {
            Some(shared) => f(shared),
            None => {
                let s = &self.shared;
                let mut copy = Shared {
                    manager: s.manager.clone(),
                    keys: s.keys.clone(),
                    cookie: s.cookie.clone(),
                    header: s.header.clone(),
                    proxies: s.proxies.clone(),
                    csrf: s.csrf.clone(),
                    metrics: s.metrics.clone(),
                    no_store: s.no_store,
                };
                f(&mut copy);
                self.shared = Arc::new(copy);
            }
        }
        self
    }

    /// Sets the cookie policy. It is validated here; an invalid policy is an error at startup.
    pub fn with_cookie_policy(self, policy: CookiePolicy) -> Result<Self, CookieError> {
        policy.validate()?;
        Ok(self.edit(|s| s.cookie = policy))
    }

    /// Accepts the token in a header too (off by default; read the OWASP caveat in
    /// [`crate::transport`]).
    pub fn with_header_transport(self, transport: HeaderTransport) -> Self {
        self.edit(|s| s.header = Some(transport))
    }

    /// Believes forwarding headers from these proxies when finding the client's IP.
    pub fn with_trusted_proxies(self, proxies: TrustedProxies) -> Self {
        self.edit(|s| s.proxies = proxies)
    }

    /// Sets the CSRF configuration.
    pub fn with_csrf(self, csrf: CsrfConfig) -> Self {
        self.edit(|s| s.csrf = Some(csrf))
    }

    /// Turns CSRF protection off (only for APIs that use the header transport exclusively).
    pub fn without_csrf(self) -> Self {
        self.edit(|s| s.csrf = None)
    }

    /// Whether responses that carry a session get `Cache-Control: no-store` (default on).
    pub fn with_no_store(self, on: bool) -> Self {
        self.edit(|s| s.no_store = on)
    }

    /// The layer's counters.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.shared.metrics.clone()
    }

    /// The manager (for work outside requests: cleanup, admin revocation).
    pub fn manager(&self) -> &Manager {
        &self.shared.manager
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> SessionService<S> {
        SessionService {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// The service of [`SessionLayer`].
#[derive(Clone)]
pub struct SessionService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> std::fmt::Debug for SessionService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionService").finish_non_exhaustive()
    }
}

impl<S, B, ResBody> Service<Request<B>> for SessionService<S>
where
    S: Service<Request<Body>, Response = Response<ResBody>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
    ResBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    ResBody::Error: Into<axum::BoxError>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let shared = self.shared.clone();
        Box::pin(async move {
            let (mut parts, body) = req.into_parts();
            let mut body = Body::new(body);
            if shared.cookie.is_development() {
                let host = parts
                    .headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .or_else(|| parts.uri.authority().map(|a| a.as_str()))
                    .unwrap_or("");
                if shared.cookie.check_host(host).is_err() {
                    return Ok(SessionError::HostNotAllowed.into_response());
                }
            }
            let (presented, header_client) = presented_token(&shared, &parts);
            let device = DeviceInfo {
                user_agent: parts
                    .headers
                    .get(header::USER_AGENT)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
                ip: shared.proxies.client_ip(&parts),
                hints: Default::default(),
            };
            let handle = Arc::new(Handle::new(
                shared.clone(),
                presented,
                header_client,
                device,
            ));
            let session = Session(handle.clone());
            if let Some(cfg) = &shared.csrf
                && !header_client
            {
                match csrf::check(cfg, &session, &parts, body).await {
                    Ok(b) => body = b,
                    Err(e) => {
                        shared.metrics.count_csrf();
                        return Ok(e.into_response());
                    }
                }
            }
            parts.extensions.insert(session);
            let response = inner.call(Request::from_parts(parts, body)).await?;
            Ok(finish(&shared, &handle, response.map(Body::new)).await)
        })
    }
}

/// Finds and opens the token. Returns it and whether the request uses the header transport.
fn presented_token(shared: &Shared, parts: &axum::http::request::Parts) -> (Presented, bool) {
    let now = shared.manager.now().as_secs();
    let max_age: Duration = shared.manager.policy().absolute_lifetime();
    let (value, header_client) = match shared.header.as_ref().and_then(|h| h.read(&parts.headers)) {
        Some(value) => (Ok(value), true),
        None => (
            find_session_cookie(parts.headers.get_all(header::COOKIE), shared.cookie.name()),
            false,
        ),
    };
    let presented = match value.and_then(|v| open_session_cookie(&shared.keys, v, max_age, now)) {
        Ok(token) => Presented::Token(token),
        Err(CookieError::NoCookie) => Presented::Nothing,
        Err(CookieError::Ambiguous { .. }) => {
            shared.metrics.ambiguous.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("two session cookies in one request (cookie tossing?)");
            Presented::Refused("ambiguous_cookie")
        }
        Err(CookieError::Expired) => {
            shared.metrics.expired.fetch_add(1, Ordering::Relaxed);
            Presented::Refused("cookie_expired")
        }
        Err(_) => {
            shared.metrics.forged.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("forged or tampered session token refused before the store");
            Presented::Refused("invalid_cookie")
        }
    };
    (presented, header_client)
}

/// Commits the handler's changes and writes the headers the session needs.
async fn finish(shared: &Shared, handle: &Handle, mut response: Response<Body>) -> Response<Body> {
    if !handle.was_loaded() {
        // The handler never touched the session: nothing to commit, no store call.
        return response;
    }
    if let Err(e) = commit(shared, handle).await {
        return e.into_response();
    }
    let (issue, logged_out, used, token) = {
        let state = handle.state.lock();
        let token = state
            .live
            .as_ref()
            .and_then(|l| l.token.as_ref())
            .map(|t| t.expose().to_owned());
        (state.issue, state.logged_out, state.used, token)
    };
    let headers = response.headers_mut();
    if logged_out {
        if let Ok(v) = shared.cookie.removal_header()
            && let Ok(v) = HeaderValue::try_from(v)
        {
            headers.append(header::SET_COOKIE, v);
        }
        headers.insert(
            axum::http::HeaderName::from_static("clear-site-data"),
            HeaderValue::from_static("\"cookies\""),
        );
    } else if issue && let Some(token) = token {
        let now = shared.manager.now().as_secs();
        let sealed = match seal_session_token(&shared.keys, &token, now) {
            Ok(v) => v,
            Err(e) => return SessionError::Engine(sesame::Error::Cookie(e)).into_response(),
        };
        match (&shared.header, handle.header_client) {
            (Some(transport), true) => {
                if let Ok(v) = HeaderValue::try_from(sealed) {
                    headers.insert(transport.response_header().clone(), v);
                }
            }
            _ => match shared
                .cookie
                .set_cookie_header(&sealed)
                .map(HeaderValue::try_from)
            {
                Ok(Ok(v)) => {
                    headers.append(header::SET_COOKIE, v);
                }
                Ok(Err(_)) | Err(_) => {
                    return SessionError::Engine(sesame::Error::Internal("cookie".into()))
                        .into_response();
                }
            },
        }
    }
    if shared.no_store && (used || logged_out) && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

async fn commit(shared: &Shared, handle: &Handle) -> Result<(), SessionError> {
    let (patch, id, data) = {
        let mut state = handle.state.lock();
        if state.patch.is_empty() || state.logged_out {
            return Ok(());
        }
        let patch = std::mem::take(&mut state.patch);
        match &state.live {
            Some(live) => (patch, Some(live.record.id), None),
            None => {
                let mut data = sesame::Data::new();
                patch.apply_to(&mut data);
                (patch, None, Some(data))
            }
        }
    };
    shared.metrics.commits.fetch_add(1, Ordering::Relaxed);
    match (id, data) {
        (Some(id), _) => {
            let record = shared.manager.update_id(&id, &patch, None).await?;
            if let Some(live) = handle.state.lock().live.as_mut() {
                live.record = record;
            }
        }
        (None, data) => {
            let created = shared
                .manager
                .create(None, data.unwrap_or_default(), handle.device.clone())
                .await?;
            let mut state = handle.state.lock();
            state.live = Some(crate::session::Live {
                token: Some(created.token),
                record: created.session,
            });
            state.issue = true;
            state.used = true;
        }
    }
    Ok(())
}
