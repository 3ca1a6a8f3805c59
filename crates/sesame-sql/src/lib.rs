//! SQL session stores for sesame: SQLite (the embedded default of
//! `sesame serve`), PostgreSQL and MySQL/MariaDB, on sqlx.
//!
//! ```no_run
//! # async fn run() -> sesame::Result<()> {
//! use sesame::{Manager, Policy};
//! use sesame_sql::SqlStore;
//!
//! let store = SqlStore::connect("sqlite://sessions.db?mode=rwc").await?;
//! let manager = Manager::new(store, Policy::default())?;
//! # Ok(()) }
//! ```
//!
//! One type, [`SqlStore`], serves all three databases: the URL's scheme picks
//! the [`Backend`] (`sqlite:`, `postgres:`/`postgresql:`, `mysql:`/`mariadb:`).
//! It runs on sqlx's `Any` driver with statements specialised per database at
//! connect time, so the store's logic — the contract's invariants — is
//! written once and the three backends cannot drift apart.
//!
//! # Schema
//! One `sessions` table keyed by the token's SHA-256, holding live sessions
//! and tombstones (`end_reason` set), and a `users` table whose rows are the
//! per-user locks. Embedded migrations run on connect (or by [`migrate`]);
//! see `migrations/` and the crate README.
//!
//! # Transactions
//! - A load that need not touch is one `SELECT`; a due touch, an expiry and a
//!   single `end` are each one conditional `UPDATE` whose `WHERE` re-checks
//!   that the session is still live, so of two racing callers exactly one
//!   sees `rows_affected = 1` and reports the end.
//! - `update` and `increment` lock the session row (`SELECT ... FOR UPDATE`;
//!   SQLite: `BEGIN IMMEDIATE`), apply the patch to the stored map in Rust
//!   and write it back with `WHERE version = <read>`: concurrent patches to
//!   different keys serialize on the row and none is lost.
//! - `create` with a cap, `rotate` and `end_user` first lock the user's row
//!   in `users` (SQLite: `BEGIN IMMEDIATE`), so a user's cap holds under any
//!   concurrency. Locks are always taken users first (sorted), then sessions,
//!   and cleanup skips rows others hold (`SKIP LOCKED`), so the lock graph
//!   has no cycle.
//! - After each batch, cleanup deletes the `users` rows of the batch's users
//!   who have no live session left (a transaction per 500 users that locks
//!   their rows, sorted, then deletes), so the table stays as small as the
//!   set of users with live sessions. A `create` that finds its user's row
//!   gone inserts it again and retries.
//! - Every operation is bounded: acquire timeout, server-side statement
//!   timeout, and a client-side bound on the whole operation.
//!
//! # SQLite reads
//! Writes go through sqlx's single writer connection. Pure reads (a load's
//! `SELECT`, `list_user`, the owner lookup before `end`/`rotate`) run on the
//! calling thread over read-only rusqlite connections to the same file and
//! the same SQLite library ([`SqliteReads::Inline`], the default): no thread
//! hop per statement. Each read is a fresh WAL snapshot, so a write committed
//! by this store or another process is seen by the next read; nothing is
//! cached. [`SqliteReads::Driver`] reads through sqlx instead.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod config;
mod error;
mod row;
mod schema;
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite_read;
#[cfg(not(feature = "sqlite"))]
#[path = "sqlite_read_off.rs"]
mod sqlite_read;
mod store;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Once, OnceLock};
use std::time::Duration;

use sesame::{Error, Result};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyConnection, AnyPool, AssertSqlSafe, ConnectOptions, Connection, Executor};

pub use config::{SqlConfig, SqliteReads, SqliteSync};
pub use schema::migrate;

use crate::sql::{Statements, Tables};
use crate::sqlite_read::Readers;

/// Which database a [`SqlStore`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite: one file, WAL mode, one writer connection (sqlx) and a pool of
    /// read-only connections that read on the calling thread.
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB (InnoDB, `READ COMMITTED`).
    MySql,
}

impl Backend {
    /// The backend a URL's scheme names.
    pub fn of_url(url: &str) -> Result<Self> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            "mysql" | "mariadb" => Ok(Backend::MySql),
            _ => Err(Error::Config(format!(
                "sql.url: unknown scheme {scheme:?} (sqlite:, postgres:, mysql:)"
            ))),
        }
    }

    fn enabled(self) -> Result<()> {
        let (on, feature) = match self {
            Backend::Sqlite => (cfg!(feature = "sqlite"), "sqlite"),
            Backend::Postgres => (cfg!(feature = "postgres"), "postgres"),
            Backend::MySql => (cfg!(feature = "mysql"), "mysql"),
        };
        if on {
            Ok(())
        } else {
            Err(Error::Config(format!(
                "sesame-sql was built without the `{feature}` feature"
            )))
        }
    }
}

/// A session store in an SQL database. Cheap to clone (shares its pools).
#[derive(Clone)]
pub struct SqlStore {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    /// SQLite: read-only connections for the pure reads, run without a
    /// thread hop (`sqlite_read`); unset when reads go through `read`.
    /// Declared (so dropped) before the pools: SQLite removes the WAL files
    /// when the last connection closes, unless that one is read-only.
    readers: OnceLock<Readers>,
    /// Writes (and, except on SQLite, reads). SQLite: one connection, so
    /// writers queue here instead of spinning on the file lock.
    write: AnyPool,
    /// Reads. SQLite: a pool of readers (WAL lets them run beside the writer).
    read: AnyPool,
    sql: Statements,
    /// The bound on one whole operation.
    op_timeout: Duration,
    /// Operations retried after a deadlock or serialization failure.
    retries: AtomicU64,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &self.inner.backend)
            .field("sessions_table", &self.inner.sql.tables.sessions)
            .finish()
    }
}

static DRIVERS: Once = Once::new();

impl SqlStore {
    /// Connects with the default [`SqlConfig`] and runs the migrations. The
    /// URL's scheme picks the backend: `sqlite://path?mode=rwc`,
    /// `postgres://user@host/db`, `mysql://user@host/db`.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, SqlConfig::default()).await
    }

    /// Connects with `config`. A database that is down or unreachable fails
    /// with `Error::StoreUnavailable` within the connect timeout.
    pub async fn connect_with(url: &str, config: SqlConfig) -> Result<Self> {
        config.validate()?;
        let backend = Backend::of_url(url)?;
        backend.enabled()?;
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        // sqlx's MySQL driver speaks MariaDB under the mysql: scheme.
        let url = match url.strip_prefix("mariadb:") {
            Some(rest) => format!("mysql:{rest}"),
            None => url.to_owned(),
        };
        let url = url.as_str();
        let options: AnyConnectOptions = url
            .parse()
            .map_err(|e| Error::Config(format!("sql.url: {e}")))?;
        // One connection first, outside any pool: a pool retries a failing
        // connection until its timeout and then reports only the timeout,
        // where this one says why (connection refused, authentication
        // failed, unable to open the database file).
        let probe_options = options.clone();
        let probe = async {
            let mut conn = probe_options.connect().await?;
            apply_settings(&mut conn, backend, &config).await?;
            conn.close().await
        };
        let connecting = async {
            probe.await?;
            let (write, read) = match backend {
                Backend::Sqlite => {
                    let memory = url.contains(":memory:") || url.contains("mode=memory");
                    let write = pool(backend, &config, 1, config.statement_timeout)
                        .connect_with(options.clone())
                        .await?;
                    let read = if memory {
                        write.clone()
                    } else {
                        pool(
                            backend,
                            &config,
                            config.max_connections,
                            config.acquire_timeout,
                        )
                        .connect_with(options)
                        .await?
                    };
                    (write, read)
                }
                _ => {
                    let p = pool(
                        backend,
                        &config,
                        config.max_connections,
                        config.acquire_timeout,
                    )
                    .connect_with(options)
                    .await?;
                    (p.clone(), p)
                }
            };
            Ok::<_, sqlx::Error>((write, read))
        };
        let (write, read) = tokio::time::timeout(config.connect_timeout, connecting)
            .await
            .map_err(|_| Error::unavailable("connecting to the database timed out"))?
            .map_err(error::map)?;
        let tables = Tables::new(&config.table_prefix, config.schema.as_deref());
        let store = SqlStore {
            inner: Arc::new(Inner {
                backend,
                write,
                read,
                readers: OnceLock::new(),
                sql: Statements::new(backend, tables),
                op_timeout: config.acquire_timeout + config.statement_timeout,
                retries: AtomicU64::new(0),
            }),
        };
        if config.migrate {
            store.migrate().await?;
        }
        // The inline readers open the file sqlx has opened and migrated.
        #[cfg(feature = "sqlite")]
        if backend == Backend::Sqlite && config.sqlite_reads == SqliteReads::Inline {
            let keep = usize::try_from(config.max_connections).unwrap_or(usize::MAX);
            if let Some(readers) = Readers::open(url, keep)? {
                store.inner.readers.get_or_init(|| readers);
            }
        }
        Ok(store)
    }

    /// Which database this store talks to.
    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// How many operations were retried after a deadlock or a serialization
    /// failure since connecting: a metric worth watching (the lock order is
    /// meant to keep it at zero).
    pub fn deadlock_retries(&self) -> u64 {
        self.inner.retries.load(Ordering::Relaxed)
    }

    /// The (qualified) name of the sessions table.
    pub fn sessions_table(&self) -> &str {
        &self.inner.sql.tables.sessions
    }

    /// Runs the embedded migrations that have not run yet; returns how many
    /// ran. Safe to call from several processes at once.
    pub async fn migrate(&self) -> Result<u32> {
        schema::run(self).await
    }

    /// Closes the pools; later operations fail with `StoreUnavailable`.
    pub async fn close(&self) {
        if let Some(readers) = self.inner.readers.get() {
            readers.close();
        }
        self.inner.read.close().await;
        self.inner.write.close().await;
    }
}

/// Pool options with the per-connection settings of `backend`.
fn pool(backend: Backend, config: &SqlConfig, max: u32, acquire: Duration) -> AnyPoolOptions {
    let settings = config.clone();
    AnyPoolOptions::new()
        .max_connections(max)
        .min_connections(config.min_connections.min(max))
        .acquire_timeout(acquire)
        .after_connect(move |conn, _meta| {
            let settings = settings.clone();
            Box::pin(async move { apply_settings(conn, backend, &settings).await })
        })
}

/// Runs the statements each new connection runs.
async fn apply_settings(
    conn: &mut AnyConnection,
    backend: Backend,
    config: &SqlConfig,
) -> std::result::Result<(), sqlx::Error> {
    for setting in session_settings(backend, config.statement_timeout, config.sqlite_sync) {
        let result = conn.execute(AssertSqlSafe(setting.clone())).await;
        // MySQL has no max_statement_time (MariaDB does); the client-side
        // bound still holds there.
        if let Err(e) = result
            && !setting.contains("max_statement_time")
        {
            return Err(e);
        }
    }
    Ok(())
}

/// The statements each new connection runs.
fn session_settings(backend: Backend, statement: Duration, sync: SqliteSync) -> Vec<String> {
    let ms = statement.as_millis();
    match backend {
        Backend::Sqlite => vec![
            format!("PRAGMA busy_timeout = {ms}"),
            format!("PRAGMA synchronous = {}", sync.pragma()),
        ],
        Backend::Postgres => vec![
            format!("SET statement_timeout = {ms}"),
            format!("SET idle_in_transaction_session_timeout = {}", ms * 2),
        ],
        Backend::MySql => vec![
            "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED".into(),
            format!(
                "SET SESSION innodb_lock_wait_timeout = {}",
                statement.as_secs().max(1)
            ),
            format!(
                "SET SESSION max_statement_time = {}",
                statement.as_secs_f64()
            ),
        ],
    }
}
