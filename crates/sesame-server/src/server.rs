//! Building the app and running it: the middleware stack, binding, and
//! graceful shutdown. Connections are served by [`crate::serving`].
//!
//! Middleware: [`guard`], in order: the concurrency limit (excess requests
//! wait, across all routes), the header size limit (431), the block of a
//! client address that presented too many invalid session credentials (429,
//! see [`crate::probing`]), the request timeout (503 `timeout`), adding
//! `clear_cookie` to a 401 refusing a session the request presented, counting
//! store errors and invalid credentials, and one log event per request
//! (method, route template, status, latency, error code — never headers, so
//! never a token or an API key). The event is at debug level, or warn for
//! 5xx; it replaces tower-http's `TraceLayer`, whose span and body wrapper
//! per request cost ~10% of validate throughput. Body size is limited where
//! bodies are read ([`crate::api::JsonBody`], 413).
//!
//! Shutdown stops accepting, lets in-flight requests finish, and gives up
//! after `limits.shutdown_timeout`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use sesame::{Clock, Manager};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::api::{AppState, COOKIE_HEADER, Shared, TOKEN_HEADER};
use crate::config::{Config, ConfigError};
use crate::cookies::Cookies;
use crate::error::{ApiError, ErrorCode, SessionRefusal};
use crate::metrics::{Metrics, MetricsSink};
use crate::serving::{ConnectionSettings, Workers};
use crate::stores::{self, OpenError, StoreHandle};

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A setting is wrong (exit code 2).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store did not open.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The engine refused the setup.
    #[error(transparent)]
    Engine(#[from] sesame::Error),
    /// The worker threads did not start.
    #[error("cannot start the worker threads: {0}")]
    Workers(std::io::Error),
    /// Binding the listen address failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A built application: its state and router.
#[derive(Debug)]
pub struct Built {
    /// Shared state.
    pub state: Shared,
    /// The full router with middleware.
    pub router: Router,
    /// The store.
    pub store: StoreHandle,
}

/// Opens the store and builds the app on `clock`. A networked store that
/// does not answer yet does not stop it (see [`crate::pending`]).
pub async fn build(config: &Config, clock: Arc<dyn Clock>) -> Result<Built, StartError> {
    let store = stores::open_for_serve(&config.store_url()).await?;
    let policy = config.policy.to_policy()?;
    let max_age = policy.absolute_lifetime();
    let manager = Manager::with_clock(Arc::clone(&store.store), policy, clock)?;
    let metrics = Arc::new(Metrics::new(store.live_count.clone()));
    manager.subscribe(Arc::new(MetricsSink(Arc::clone(&metrics))));
    if let Some(hook) = &config.webhook {
        manager.subscribe(Arc::new(crate::webhook::start(
            hook.clone(),
            Arc::clone(&metrics),
        )));
    }
    let state = Arc::new(AppState {
        manager,
        keys: config.api_keys()?,
        metrics,
        cookies: Cookies::new(config.cookie_keys()?, max_age)
            .with_policy(config.cookie_policy()?)
            .map_err(|e| ConfigError::new("cookie", e.to_string()))?,
        limits: config.limits.clone(),
        store_kind: store.kind,
        probes: crate::probing::ProbeGuard::new(&config.guard),
        in_flight: tokio::sync::Semaphore::new(
            config
                .limits
                .max_concurrency
                .min(tokio::sync::Semaphore::MAX_PERMITS),
        ),
    });
    let router = app(Arc::clone(&state));
    Ok(Built {
        state,
        router,
        store,
    })
}

/// The routes with the middleware stack.
pub fn app(state: Shared) -> Router {
    crate::api::routes(Arc::clone(&state)).layer(middleware::from_fn_with_state(state, guard))
}

/// Concurrency limit, header limit, probe guard, timeout, store-error and
/// invalid-credential counting, request log.
pub async fn guard(State(state): State<Shared>, req: Request, next: Next) -> Response {
    // One limit for the whole service: a tower `ConcurrencyLimitLayer` on
    // the router would be one limit per route and method (axum layers each
    // endpoint separately). The semaphore is never closed.
    let _permit = state.in_flight.acquire().await.ok();
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if header_bytes > state.limits.max_header_bytes {
        return ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ErrorCode::HeadersTooLarge,
            format!(
                "request headers are over {} bytes",
                state.limits.max_header_bytes
            ),
        )
        .into_response();
    }
    let presents_session =
        req.headers().contains_key(TOKEN_HEADER) || req.headers().contains_key(COOKIE_HEADER);
    // Only requests naming a session (`/v1/session` and below, with a token
    // or cookie header) are counted or blocked by the guard.
    let names_session = presents_session
        && route
            .as_ref()
            .is_some_and(|r| r.as_str() == "/v1/session" || r.as_str().starts_with("/v1/session/"));
    let client = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .filter(|_| names_session && state.probes.enabled());
    if let Some(ip) = client
        && let Some(retry) = state.probes.blocked(ip, state.manager.now().as_secs())
    {
        let mut response = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::TooManyInvalidTokens,
            "too many invalid session tokens or cookies from this address; retry later",
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry));
        tracing::debug!(%method, status = 429, code = "too_many_invalid_tokens", "request");
        return response;
    }
    let mut response =
        match tokio::time::timeout(state.limits.request_timeout.0, next.run(req)).await {
            Ok(response) => response,
            Err(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Timeout,
                "the request took too long",
            )
            .into_response(),
        };
    // A refused session the request presented: hand the app the value that
    // removes its cookie (D2), so no app keeps sending a dead one.
    if let Some(SessionRefusal(body)) = response.extensions_mut().remove::<SessionRefusal>()
        && presents_session
    {
        response =
            ApiError::refusal_with_clear_cookie(body, state.cookies.clear_cookie()).into_response();
    }
    let code = response.extensions().get::<ErrorCode>().copied();
    if code.is_some_and(ErrorCode::is_server_fault) {
        state.metrics.store_error();
    }
    if names_session && code == Some(ErrorCode::Invalid) {
        state.metrics.invalid_token();
        if let Some(ip) = client
            && let Some(block) = state
                .probes
                .record_invalid(ip, state.manager.now().as_secs())
        {
            state.metrics.invalid_token_block();
            tracing::warn!(
                client = %block.client,
                invalid = block.count,
                block_secs = block.block_secs,
                "too many invalid session tokens or cookies: client blocked"
            );
        }
    }
    let status = response.status().as_u16();
    let route = route.as_ref().map_or("-", MatchedPath::as_str);
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    let code = code.map(ErrorCode::as_str);
    if status >= 500 {
        tracing::warn!(%method, route, status, micros, code, "request");
    } else {
        tracing::debug!(%method, route, status, micros, code, "request");
    }
    response
}

/// A running server.
#[derive(Debug)]
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its state (tests read the metrics and manager).
    pub state: Shared,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
    cleanup: Option<JoinHandle<()>>,
    grace: std::time::Duration,
    store: StoreHandle,
    workers: Option<Arc<Workers>>,
}

impl Running {
    /// Stops accepting, waits for in-flight requests (at most the shutdown
    /// timeout), stops the scheduler and closes the store's connections.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(c) = self.cleanup.take() {
            c.abort();
        }
        let served = self.wait_for_requests().await;
        self.store.close().await;
        // Last: connections a store opened from a worker live on its runtime.
        self.workers.take();
        served
    }

    async fn wait_for_requests(&mut self) -> std::io::Result<()> {
        match tokio::time::timeout(self.grace, &mut self.task).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => Err(std::io::Error::other(join)),
            Err(_) => {
                self.task.abort();
                tracing::warn!("shutdown timeout: in-flight requests were cut off");
                Ok(())
            }
        }
    }
}

/// Builds the app, binds `config.listen`, and serves in the background.
pub async fn start(config: &Config, clock: Arc<dyn Clock>) -> Result<Running, StartError> {
    let built = build(config, clock).await?;
    let addr = config.listen_addr()?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| StartError::Bind { addr, source })?;
    let workers = Arc::new(Workers::start(config.limits.workers).map_err(StartError::Workers)?);
    let (tx, rx) = oneshot::channel::<()>();
    let settings = ConnectionSettings {
        header_read_timeout: config.limits.request_timeout.0,
    };
    let task = tokio::spawn(crate::serving::serve(
        listener,
        built.router,
        Arc::clone(&workers),
        settings,
        async {
            let _ = rx.await;
        },
    ));
    let cleanup = crate::cleanup::start(
        built.state.manager.clone(),
        Arc::clone(&built.state.metrics),
        config.cleanup.interval.0,
    );
    Ok(Running {
        addr,
        state: built.state,
        shutdown: Some(tx),
        task,
        cleanup,
        grace: config.limits.shutdown_timeout.0,
        store: built.store,
        workers: Some(workers),
    })
}
