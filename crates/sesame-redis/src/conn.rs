//! The connections: a few multiplexed connections (standalone) or a cluster
//! connection, each command bounded by a timeout.
//!
//! Standalone uses redis-rs's `ConnectionManager`: a multiplexed TCP (or
//! TLS) connection shared by callers, re-established in the background
//! with exponential backoff when it drops — a few of them (default 2), taken
//! in turn, because one connection's single reader task caps everyone's
//! throughput. Cluster uses redis-rs's async
//! cluster connection, which keeps one multiplexed connection per node,
//! follows MOVED/ASK and refreshes the slot map. On top of both, every
//! command runs under `tokio::time::timeout`, so that no call waits longer
//! than the command timeout whatever the client is doing (reconnecting,
//! retrying): a store operation fails fast with `StoreUnavailable` and works
//! again, on the same store, once Redis is back.
//!
//! Connecting first opens one plain connection (TCP, TLS handshake, `AUTH`,
//! `PING`) to the server, or to the cluster's seeds in turn until one
//! answers, and drops it. `ConnectionManager` retries a failed first
//! connection with backoff, so a wrong password or an untrusted certificate
//! would only show as a connect timeout, and the cluster client reports its
//! causes as text; the probe fails at once with the cause, and those that
//! no retry can fix (wrong credentials, certificate refused) become
//! `Error::Config` with a message that says what to check.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::io::tcp::TcpSettings;
use redis::{AsyncConnectionConfig, IntoConnectionInfo};
use redis::{Cmd, ErrorKind, Pipeline, RedisError, RedisFuture, ServerErrorKind, Value};
use sesame::{Error, Result};

use crate::config::RedisConfig;

/// The store's connections; [`Connections::next`] gives the one for a
/// command. Cheap to clone.
#[derive(Clone)]
pub enum Connections {
    /// One server: a few multiplexed connections, taken in turn.
    Single {
        /// The connections.
        pool: Arc<[ConnectionManager]>,
        /// Which one the next command takes.
        turn: Arc<AtomicUsize>,
    },
    /// A Redis Cluster (one connection per node inside).
    Cluster(ClusterConnection),
}

impl Connections {
    /// The connection for the next command.
    pub fn next(&self) -> Conn {
        match self {
            Connections::Single { pool, turn } => {
                let i = turn.fetch_add(1, Ordering::Relaxed) % pool.len();
                Conn::Single(pool[i].clone())
            }
            Connections::Cluster(c) => Conn::Cluster(c.clone()),
        }
    }

    /// True for a cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self, Connections::Cluster(_))
    }
}

/// A standalone or cluster connection, for one command; cheap to clone.
#[derive(Clone)]
pub enum Conn {
    /// One server.
    Single(ConnectionManager),
    /// A Redis Cluster.
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(cmd, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

impl Connections {
    /// Connects as `config` says.
    pub async fn open(config: &RedisConfig) -> Result<Self> {
        let timeout = config.command_timeout;
        let connect = config.connect_timeout;
        match config.cluster_nodes()? {
            None => {
                let client = client(config, &config.url)?;
                probe(&client, connect).await?;
                let cfg = ConnectionManagerConfig::new()
                    .set_response_timeout(Some(timeout))
                    .set_connection_timeout(Some(connect))
                    .set_number_of_retries(config.reconnect_retries)
                    .set_min_delay(Duration::from_millis(10))
                    .set_max_delay(config.max_backoff);
                let mut pool = Vec::with_capacity(config.connections);
                for _ in 0..config.connections {
                    let manager = ConnectionManager::new_with_config(client.clone(), cfg.clone());
                    pool.push(bounded(connect, manager).await?.map_err(connect_err)?);
                }
                Ok(Connections::Single {
                    pool: pool.into(),
                    turn: Arc::new(AtomicUsize::new(0)),
                })
            }
            Some(nodes) => {
                // Probe the seeds in turn until one answers; the first
                // error no retry fixes ends it.
                let mut failed = None;
                for node in &nodes {
                    match probe(&client(config, node)?, connect).await {
                        Ok(()) => {
                            failed = None;
                            break;
                        }
                        Err(e @ Error::Config(_)) => return Err(e),
                        Err(e) => failed = Some(e),
                    }
                }
                if let Some(e) = failed {
                    return Err(e);
                }
                let builder =
                    redis::cluster::ClusterClientBuilder::new(nodes).tcp_settings(tcp_settings());
                #[cfg(feature = "tls")]
                let builder = match config.tls_certificates()? {
                    Some(certs) => builder.certs(certs),
                    None => builder,
                };
                let client = builder
                    .connection_timeout(connect)
                    .response_timeout(timeout)
                    .retries(2)
                    .min_retry_wait(10)
                    .max_retry_wait(duration_ms(config.max_backoff))
                    .build()
                    .map_err(|e| Error::Config(format!("redis cluster: {e}")))?;
                let conn = bounded(connect * 4, client.get_async_connection())
                    .await?
                    .map_err(connect_err)?;
                Ok(Connections::Cluster(conn))
            }
        }
    }
}

/// A client for one server at `url` (the config's URL, or one node of a
/// cluster), with the config's certificates when given.
fn client(config: &RedisConfig, url: &str) -> Result<redis::Client> {
    let info = url
        .into_connection_info()
        .map_err(|e| Error::Config(format!("redis url: {e}")))?;
    let info = info.set_tcp_settings(tcp_settings());
    #[cfg(feature = "tls")]
    if let Some(certs) = config.tls_certificates()? {
        return redis::Client::build_with_tls(info, certs)
            .map_err(|e| Error::Config(format!("redis url or certificates: {e}")));
    }
    #[cfg(not(feature = "tls"))]
    let _ = config;
    redis::Client::open(info).map_err(|e| Error::Config(format!("redis url: {e}")))
}

/// TCP_NODELAY on (redis-rs leaves Nagle's algorithm on; hiredis and
/// redis-benchmark turn it off): a small command written while an earlier
/// one is unacknowledged goes out at once instead of waiting for the ACK.
fn tcp_settings() -> TcpSettings {
    TcpSettings::default().set_nodelay(true)
}

/// Opens one connection (TCP, TLS handshake, `AUTH`, `SELECT`), sends
/// `PING` and drops it, all within `limit`: the cause of a failure, mapped
/// by [`connect_err`] (see the module docs).
async fn probe(client: &redis::Client, limit: Duration) -> Result<()> {
    let cfg = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(limit))
        .set_response_timeout(Some(limit));
    bounded(limit, async {
        let mut c = client
            .get_multiplexed_async_connection_with_config(&cfg)
            .await?;
        redis::cmd("PING").query_async::<()>(&mut c).await
    })
    .await?
    .map_err(connect_err)
}

/// Maps an error met while connecting: wrong credentials and a refused
/// certificate are `Config` (no retry fixes them), the rest as [`map_err`].
fn connect_err(e: RedisError) -> Error {
    if e.kind() == ErrorKind::AuthenticationFailed
        || matches!(e.code(), Some("WRONGPASS" | "NOAUTH"))
    {
        return Error::Config(format!(
            "redis authentication failed: check the user and password in the url ({e})"
        ));
    }
    #[cfg(feature = "tls")]
    if let Some(tls) = rustls_error(&e) {
        let hint = match tls {
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer) => {
                " (for a private CA, give its certificate with RedisConfig::with_root_certificates)"
            }
            rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRequired) => {
                " (the server wants a client certificate: RedisConfig::with_client_certificate)"
            }
            rustls::Error::AlertReceived(
                rustls::AlertDescription::UnknownCA | rustls::AlertDescription::BadCertificate,
            ) => " (the server refused the client certificate)",
            _ => "",
        };
        return Error::Config(format!("redis tls: {tls}{hint}"));
    }
    map_err(e)
}

/// The rustls error behind `e`, if any. A failed handshake is an
/// `io::Error` wrapping it, which redis-rs keeps in an
/// `Arc<dyn Error + Send + Sync>`; neither forwards its inner error as
/// `source()`, so each layer is unwrapped by hand.
#[cfg(feature = "tls")]
fn rustls_error(e: &RedisError) -> Option<&rustls::Error> {
    type Shared = std::sync::Arc<dyn std::error::Error + Send + Sync>;
    let mut next: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(err) = next {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        next = if let Some(shared) = err.downcast_ref::<Shared>() {
            Some(&**shared as &(dyn std::error::Error + 'static))
        } else if let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner as &(dyn std::error::Error + 'static))
        } else {
            err.source()
        };
    }
    None
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Runs `fut` for at most `limit`; past it, `StoreUnavailable`.
pub async fn bounded<T>(limit: Duration, fut: impl Future<Output = T>) -> Result<T> {
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| Error::unavailable("redis command timed out"))
}

/// Maps a client error: what says "cannot reach or use the server now" is
/// `StoreUnavailable`; a script or protocol error is `Internal`.
pub fn map_err(e: RedisError) -> Error {
    match e.kind() {
        ErrorKind::Server(
            ServerErrorKind::ResponseError
            | ServerErrorKind::ExecAbort
            | ServerErrorKind::CrossSlot
            | ServerErrorKind::NoPerm
            | ServerErrorKind::NoScript
            | ServerErrorKind::NotBusy
            | ServerErrorKind::NoSub,
        )
        | ErrorKind::Parse
        | ErrorKind::UnexpectedReturnType
        | ErrorKind::InvalidClientConfig => Error::Internal(format!("redis: {e}")),
        _ => Error::unavailable(e),
    }
}
