//! Connection settings: pool sizes, timeouts, table names, SQLite durability.
//!
//! Every knob has a default that suits a web app's session store: a store that
//! cannot answer within a few seconds is reported as unavailable (a 503), not
//! waited on, so a dead database never hangs a request.

use std::time::Duration;

use sesame::{Error, Result};

/// How SQLite syncs commits to disk (`PRAGMA synchronous`), always in WAL mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqliteSync {
    /// Every commit is on disk before it is acknowledged, even across a power
    /// loss. The default: a lost logout or revocation would bring an ended
    /// session back.
    #[default]
    Full,
    /// Commits survive a crash of the process but the last few may be lost on
    /// a power failure or OS crash; fewer fsyncs, higher write throughput.
    Normal,
}

impl SqliteSync {
    pub(crate) fn pragma(self) -> &'static str {
        match self {
            SqliteSync::Full => "FULL",
            SqliteSync::Normal => "NORMAL",
        }
    }
}

/// Where a [`SqlStore`](crate::SqlStore) on SQLite runs its pure reads (a
/// load's `SELECT`, the owner lookup before an `end` or a `rotate`,
/// `list_user`). Writes always go through sqlx's single writer connection.
/// Every choice reads the committed state of the file at the moment of the
/// read (no cache): a revoke by another process is seen by the next read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqliteReads {
    /// On the calling task's thread, through a small pool of read-only
    /// connections (rusqlite, the same SQLite library). The default: a load
    /// by primary key takes microseconds when its pages are in the OS cache,
    /// less than handing it to another thread and back (5–12× the loads per
    /// second, docs/BENCHMARKS.md). It holds the async worker thread for that
    /// long, and for a disk read on a page-cache miss; it never waits on a
    /// lock (a locked file is read through sqlx instead).
    #[default]
    Inline,
    /// Through sqlx's connection pool, like writes (a worker thread per
    /// connection, so the async threads never run SQLite): for a database on
    /// slow storage (a network file system, a cold disk) where a cache miss
    /// should not hold an async worker.
    Driver,
}

/// Settings of a [`SqlStore`](crate::SqlStore). Build with the `with_*`
/// methods; [`SqlConfig::default`] is what [`SqlStore::connect`](crate::SqlStore::connect) uses.
#[derive(Debug, Clone)]
pub struct SqlConfig {
    pub(crate) max_connections: u32,
    pub(crate) min_connections: u32,
    pub(crate) connect_timeout: Duration,
    pub(crate) acquire_timeout: Duration,
    pub(crate) statement_timeout: Duration,
    pub(crate) table_prefix: String,
    pub(crate) schema: Option<String>,
    pub(crate) sqlite_sync: SqliteSync,
    pub(crate) migrate: bool,
    pub(crate) sqlite_reads: SqliteReads,
}

impl Default for SqlConfig {
    fn default() -> Self {
        Self {
            max_connections: 10,
            min_connections: 0,
            connect_timeout: Duration::from_secs(2),
            acquire_timeout: Duration::from_secs(2),
            statement_timeout: Duration::from_secs(5),
            table_prefix: "sesame_".into(),
            schema: None,
            sqlite_sync: SqliteSync::Full,
            migrate: true,
            sqlite_reads: SqliteReads::Inline,
        }
    }
}

impl SqlConfig {
    /// The defaults: 10 connections, 2 s connect and acquire timeouts, 5 s
    /// statement timeout, tables `sesame_sessions` and `sesame_users`, SQLite
    /// `synchronous=FULL` with reads inline, migrations run on connect.
    pub fn new() -> Self {
        Self::default()
    }

    /// The most connections the pool opens (default 10). SQLite uses this many
    /// sqlx readers plus one writer connection, and keeps up to this many idle
    /// inline readers (see [`SqliteReads`]).
    pub fn with_max_connections(mut self, n: u32) -> Self {
        self.max_connections = n;
        self
    }

    /// Connections kept open when idle (default 0).
    pub fn with_min_connections(mut self, n: u32) -> Self {
        self.min_connections = n;
        self
    }

    /// How long opening the first connection may take (default 2 s).
    pub fn with_connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// How long an operation waits for a pooled connection, including opening
    /// a new one (default 2 s). A database that is down fails within this.
    pub fn with_acquire_timeout(mut self, d: Duration) -> Self {
        self.acquire_timeout = d;
        self
    }

    /// How long one statement may run, lock waits included (default 5 s):
    /// PostgreSQL `statement_timeout`, MariaDB `max_statement_time`, SQLite
    /// `busy_timeout`; every operation is also bounded on the client side by
    /// acquire + statement timeout.
    pub fn with_statement_timeout(mut self, d: Duration) -> Self {
        self.statement_timeout = d;
        self
    }

    /// Prefix of the table names (default `sesame_`): ASCII letters, digits
    /// and `_`, at most 32 characters.
    pub fn with_table_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.table_prefix = prefix.into();
        self
    }

    /// Schema (PostgreSQL) or database (MySQL) that holds the tables; ignored
    /// by SQLite. It must exist. Default: the connection's own.
    pub fn with_schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// SQLite's sync level (default [`SqliteSync::Full`]).
    pub fn with_sqlite_sync(mut self, sync: SqliteSync) -> Self {
        self.sqlite_sync = sync;
        self
    }

    /// Where SQLite runs its pure reads (default [`SqliteReads::Inline`]);
    /// ignored by PostgreSQL and MySQL. An in-memory SQLite database always
    /// reads through sqlx.
    pub fn with_sqlite_reads(mut self, reads: SqliteReads) -> Self {
        self.sqlite_reads = reads;
        self
    }

    /// Whether connecting runs the embedded migrations (default true). With
    /// false, run [`migrate`](crate::migrate) yourself (e.g. `sesame migrate`).
    pub fn with_migrate(mut self, migrate: bool) -> Self {
        self.migrate = migrate;
        self
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let ident = |s: &str| {
            !s.is_empty()
                && s.len() <= 32
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        };
        if !(self.table_prefix.is_empty() || ident(&self.table_prefix)) {
            return Err(Error::Config(
                "sql.table_prefix: ASCII letters, digits and _, at most 32".into(),
            ));
        }
        if let Some(schema) = &self.schema
            && !ident(schema)
        {
            return Err(Error::Config(
                "sql.schema: ASCII letters, digits and _, at most 32".into(),
            ));
        }
        if self.max_connections == 0 {
            return Err(Error::Config("sql.max_connections: at least 1".into()));
        }
        for (name, d) in [
            ("connect_timeout", self.connect_timeout),
            ("acquire_timeout", self.acquire_timeout),
            ("statement_timeout", self.statement_timeout),
        ] {
            if d.is_zero() {
                return Err(Error::Config(format!("sql.{name}: must be above zero")));
            }
        }
        Ok(())
    }
}
