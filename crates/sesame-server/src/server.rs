//! Building the app and running it: the state, the routes with their
//! middleware ([`crate::middleware`], in request order), binding, and
//! graceful shutdown. Connections are served by [`crate::serving`].
//!
//! Shutdown stops accepting, lets in-flight requests finish, and gives up
//! after `limits.shutdown_timeout`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use sesame::{Clock, Manager};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::api::{AppState, Shared};
use crate::config::{Config, ConfigError};
use crate::cookies::Cookies;
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

/// The routes with the middleware stack ([`crate::middleware`]).
pub fn app(state: Shared) -> Router {
    crate::middleware::stack(crate::api::routes(Arc::clone(&state)), &state)
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
    if crate::serving::exposed_without_tls(addr, config.behind_tls_proxy) {
        tracing::warn!(
            %addr,
            "listening on a non-loopback address without TLS: API keys and session tokens \
             cross the network in clear text. Put a TLS-terminating proxy in front (then set \
             behind_tls_proxy = true), or listen on 127.0.0.1"
        );
    }
    let fd_limit = crate::serving::raise_fd_limit();
    let max_connections = crate::serving::connection_cap(config.limits.max_connections, fd_limit);
    if max_connections < config.limits.max_connections {
        tracing::warn!(
            configured = config.limits.max_connections,
            max_connections,
            fd_limit,
            "limits.max_connections lowered to fit the open-file limit (raise `ulimit -n` for more)"
        );
    }
    let settings = ConnectionSettings {
        header_read_timeout: config.limits.header_read_timeout.0,
        max_buf_size: (2 * config.limits.max_header_bytes).max(8 * 1024) + 8 * 1024,
        max_connections,
        metrics: Arc::clone(&built.state.metrics),
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
