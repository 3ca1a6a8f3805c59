//! SQLite's pure reads on the calling thread, beside sqlx's writer.
//!
//! sqlx runs every SQLite statement on a worker thread of its connection: a
//! channel send, a thread wake-up and a oneshot back per statement. For the
//! hot read of a session store — a load by primary key, a few microseconds of
//! SQLite work when its pages are cached — those hops cost more than the
//! query, and on a small machine the extra threads compete with the request's
//! own. So the pure reads run here instead, on a few read-only connections
//! (rusqlite over the same bundled libsqlite3 that sqlx links), called
//! directly; every write stays on sqlx's single writer connection.
//!
//! **Freshness.** Each read is one autocommit statement, reset before its
//! connection goes back to the pool, so it runs in a WAL snapshot taken when
//! it starts: every commit acknowledged before the read began is in it (a
//! write through sqlx is seen by the next read here), and nothing is cached
//! across reads.
//!
//! **Lock waits.** The readers' busy timeout is zero. A WAL reader rarely
//! meets a lock (WAL recovery, another process holding the file in exclusive
//! mode, a file switched to rollback-journal mode while a writer commits);
//! when it does, the read is handed back to sqlx, whose worker thread waits
//! with the configured `busy_timeout`, so an async thread never sleeps in
//! SQLite's busy handler.
//!
//! **One SQLite.** rusqlite and sqlx share the one `libsqlite3-sys` of the
//! build (Cargo allows one crate per `links = "sqlite3"`), so the process has
//! one copy of SQLite and its POSIX lock bookkeeping sees every connection:
//! two copies in one process could drop each other's locks (sqlite.org,
//! "How To Corrupt An SQLite Database File", 2.2.1).

use std::borrow::Cow;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, ErrorCode, OpenFlags, params};
use sesame::{Error, SessionId, Timestamp, UserId};

use crate::error;
use crate::row::{self, Columns, Stored, ms};

/// Why an inline read gave no answer.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The file is locked: read through sqlx instead, which waits for it.
    Busy,
    /// The answer: an outage, a bug, a corrupt row (already typed).
    Store(Error),
}

impl From<Error> for ReadError {
    fn from(e: Error) -> Self {
        ReadError::Store(e)
    }
}

impl From<rusqlite::Error> for ReadError {
    fn from(e: rusqlite::Error) -> Self {
        map(e)
    }
}

/// The same typed errors as sqlx's path (`error::map`): a locked, full,
/// read-only, unreadable or missing file is `StoreUnavailable`, a statement
/// SQLite refuses (no such table) is `Internal`.
fn map(e: rusqlite::Error) -> ReadError {
    use rusqlite::Error as E;
    match e {
        E::SqliteFailure(f, _)
            if matches!(f.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) =>
        {
            ReadError::Busy
        }
        E::SqliteFailure(f, msg) => {
            let code = f.extended_code;
            if error::is_bug(&code.to_string()) {
                let msg = msg.unwrap_or_else(|| f.to_string());
                ReadError::Store(Error::Internal(format!(
                    "database refused a statement ({code}): {msg}"
                )))
            } else {
                ReadError::Store(Error::unavailable(E::SqliteFailure(f, msg)))
            }
        }
        e @ (E::InvalidColumnType(..)
        | E::FromSqlConversionFailure(..)
        | E::IntegralValueOutOfRange(..)
        | E::InvalidColumnIndex(_)) => ReadError::Store(row::unreadable(e)),
        other => ReadError::Store(Error::Internal(format!("database client: {other}"))),
    }
}

/// Columns read in place (no copy of the text or blob out of SQLite's row).
impl Columns for rusqlite::Row<'_> {
    fn bytes(&self, i: usize) -> Result<Option<Cow<'_, [u8]>>, Error> {
        match self.get_ref(i).map_err(row::unreadable)? {
            ValueRef::Null => Ok(None),
            ValueRef::Blob(b) => Ok(Some(Cow::Borrowed(b))),
            other => Err(wrong_type(i, "BLOB", other)),
        }
    }
    fn text(&self, i: usize) -> Result<Option<Cow<'_, str>>, Error> {
        match self.get_ref(i).map_err(row::unreadable)? {
            ValueRef::Null => Ok(None),
            ValueRef::Text(t) => std::str::from_utf8(t)
                .map(|s| Some(Cow::Borrowed(s)))
                .map_err(row::unreadable),
            other => Err(wrong_type(i, "TEXT", other)),
        }
    }
    fn int(&self, i: usize) -> Result<Option<i64>, Error> {
        match self.get_ref(i).map_err(row::unreadable)? {
            ValueRef::Null => Ok(None),
            ValueRef::Integer(n) => Ok(Some(n)),
            other => Err(wrong_type(i, "INTEGER", other)),
        }
    }
}

fn wrong_type(i: usize, expected: &str, got: ValueRef<'_>) -> Error {
    row::unreadable(format!(
        "column {i} is {}, expected {expected}",
        got.data_type()
    ))
}

/// A pool of read-only connections to one SQLite file. Cheap to share.
pub(crate) struct Readers {
    path: PathBuf,
    /// Idle connections; a read takes one (or opens one) and puts it back.
    idle: Mutex<Vec<Connection>>,
    /// How many idle connections are kept.
    keep: usize,
    closed: AtomicBool,
}

impl std::fmt::Debug for Readers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readers").field("path", &self.path).finish()
    }
}

impl Readers {
    /// Readers for the file behind a `sqlite:` URL, opened after sqlx has
    /// opened (and migrated) it. `None` when the reads must stay on sqlx: an
    /// in-memory database (its pages are private to sqlx's connection),
    /// `immutable` or a custom `vfs` in the URL.
    pub fn open(url: &str, keep: usize) -> Result<Option<Self>, Error> {
        let query = url.split_once('?').map_or("", |(_, q)| q);
        let special = query.split('&').any(|pair| {
            let key = pair.split('=').next().unwrap_or_default();
            let value = pair.split('=').nth(1).unwrap_or_default();
            matches!(key, "vfs" | "immutable") || (key == "mode" && value == "memory")
        });
        if special || url.contains(":memory:") {
            return Ok(None);
        }
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
            .map_err(|e| Error::Config(format!("sql.url: {e}")))?;
        let readers = Readers {
            path: options.get_filename().to_path_buf(),
            idle: Mutex::new(Vec::new()),
            keep: keep.max(1),
            closed: AtomicBool::new(false),
        };
        // Open one now: a file sqlx could open but we cannot is an error at
        // connect, not on the first request.
        let first = readers.connect().map_err(|e| match map(e) {
            ReadError::Store(e) => e,
            ReadError::Busy => Error::unavailable("the database file is locked"),
        })?;
        // Reading the header checks the file is readable here; a lock held
        // right now is not an error (reads then go through sqlx).
        let checked = first.query_row("PRAGMA schema_version", [], |r| r.get::<_, i64>(0));
        match checked.map_err(map) {
            Ok(_) | Err(ReadError::Busy) => {}
            Err(ReadError::Store(e)) => return Err(e),
        }
        readers.idle.lock().push(first);
        Ok(Some(readers))
    }

    fn connect(&self) -> rusqlite::Result<Connection> {
        // The flags sqlx opens with (URI filenames, no mutex: a connection is
        // used by one thread at a time), but read-only.
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        conn.busy_timeout(Duration::ZERO)?;
        Ok(conn)
    }

    /// Runs `read` on an idle connection (opening one if none is idle).
    fn with<T>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, ReadError>,
    ) -> Result<T, ReadError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(ReadError::Store(Error::unavailable("the store is closed")));
        }
        let taken = self.idle.lock().pop();
        let conn = match taken {
            Some(conn) => conn,
            None => self.connect()?,
        };
        let result = read(&conn);
        // A connection that failed in SQLite itself (I/O, a vanished file) is
        // dropped; the next read opens a fresh one. Statements are reset when
        // their rows are dropped, so a pooled connection holds no snapshot;
        // one inside a transaction (never begun here) would, and is dropped.
        let healthy = !matches!(&result, Err(ReadError::Store(Error::StoreUnavailable(_))))
            && conn.is_autocommit();
        if healthy && !self.closed.load(Ordering::Acquire) {
            let mut idle = self.idle.lock();
            if idle.len() < self.keep {
                idle.push(conn);
            }
        }
        result
    }

    /// The row of session `id` (`sql`: the store's `select`).
    pub fn session(&self, sql: &str, id: &SessionId) -> Result<Option<Stored>, ReadError> {
        self.with(|conn| {
            let mut stmt = conn.prepare_cached(sql)?;
            let mut rows = stmt.query(params![id.as_bytes().as_slice()])?;
            match rows.next()? {
                Some(r) => Ok(Some(row::decode(r)?)),
                None => Ok(None),
            }
        })
    }

    /// The owner column of session `id`: `None` when there is no row.
    pub fn owner(&self, sql: &str, id: &SessionId) -> Result<Option<Option<String>>, ReadError> {
        self.with(|conn| {
            let mut stmt = conn.prepare_cached(sql)?;
            let mut rows = stmt.query(params![id.as_bytes().as_slice()])?;
            match rows.next()? {
                Some(r) => Ok(Some(r.text(0)?.map(Cow::into_owned))),
                None => Ok(None),
            }
        })
    }

    /// The user's rows live at `now` (`sql`: the store's `list_user`).
    pub fn list(&self, sql: &str, user: &UserId, now: Timestamp) -> Result<Vec<Stored>, ReadError> {
        self.with(|conn| {
            let mut stmt = conn.prepare_cached(sql)?;
            let mut rows = stmt.query(params![user.as_str(), ms(now), ms(now)])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(row::decode(r)?);
            }
            Ok(out)
        })
    }

    /// Drops the idle connections; later reads fail with `StoreUnavailable`.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.idle.lock().clear();
    }
}
