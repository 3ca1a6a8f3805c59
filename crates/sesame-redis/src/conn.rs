//! The connection: one multiplexed connection (standalone) or a cluster
//! connection, each command bounded by a timeout.
//!
//! Standalone uses redis-rs's `ConnectionManager`: one multiplexed TCP (or
//! TLS) connection shared by all callers, re-established in the background
//! with exponential backoff when it drops. Cluster uses redis-rs's async
//! cluster connection, which keeps one multiplexed connection per node,
//! follows MOVED/ASK and refreshes the slot map. On top of both, every
//! command runs under `tokio::time::timeout`, so that no call waits longer
//! than the command timeout whatever the client is doing (reconnecting,
//! retrying): a store operation fails fast with `StoreUnavailable` and works
//! again, on the same store, once Redis is back.

use std::future::Future;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, ErrorKind, Pipeline, RedisError, RedisFuture, ServerErrorKind, Value};
use sesame::{Error, Result};

use crate::config::RedisConfig;

/// A standalone or cluster connection; cheap to clone.
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

impl Conn {
    /// Connects as `config` says.
    pub async fn open(config: &RedisConfig) -> Result<Self> {
        let timeout = config.command_timeout;
        let connect = config.connect_timeout;
        match config.cluster_nodes()? {
            None => {
                let client = redis::Client::open(config.url.as_str())
                    .map_err(|e| Error::Config(format!("redis url: {e}")))?;
                let cfg = ConnectionManagerConfig::new()
                    .set_response_timeout(Some(timeout))
                    .set_connection_timeout(Some(connect))
                    .set_number_of_retries(config.reconnect_retries)
                    .set_min_delay(Duration::from_millis(10))
                    .set_max_delay(config.max_backoff);
                let manager = bounded(connect, ConnectionManager::new_with_config(client, cfg))
                    .await?
                    .map_err(map_err)?;
                Ok(Conn::Single(manager))
            }
            Some(nodes) => {
                let client = redis::cluster::ClusterClientBuilder::new(nodes)
                    .connection_timeout(connect)
                    .response_timeout(timeout)
                    .retries(2)
                    .min_retry_wait(10)
                    .max_retry_wait(duration_ms(config.max_backoff))
                    .build()
                    .map_err(|e| Error::Config(format!("redis cluster: {e}")))?;
                let conn = bounded(connect * 4, client.get_async_connection())
                    .await?
                    .map_err(map_err)?;
                Ok(Conn::Cluster(conn))
            }
        }
    }

    /// True for a cluster connection.
    pub fn is_cluster(&self) -> bool {
        matches!(self, Conn::Cluster(_))
    }
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
