//! Turning database errors into `sesame::Error`.
//!
//! What a caller can act on is kept apart: a database that is down, slow,
//! locked or read-only is `StoreUnavailable` (retry later, answer 503); one
//! whose disk is full is `StoreFull` (no room for another session until an
//! operator frees space);
//! a statement the database refused as wrong (syntax, missing table,
//! constraint) is `Internal` (a bug or a missing migration). Deadlocks and
//! serialization failures are retried before they surface.

use sesame::{Error, UserId};

/// Why one attempt at an operation failed.
#[derive(Debug)]
pub(crate) enum Fail {
    /// The database said no.
    Sql(sqlx::Error),
    /// A result the caller gets as is (`NotFound`, `Conflict`, ...).
    Store(Error),
    /// The per-user lock row does not exist yet: insert it, outside any
    /// transaction, and try again.
    NoUserRow(UserId),
}

impl From<sqlx::Error> for Fail {
    fn from(e: sqlx::Error) -> Self {
        Fail::Sql(e)
    }
}

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        Fail::Store(e)
    }
}

/// A deadlock or serialization failure: the whole operation may be retried.
pub(crate) fn is_retryable(e: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = e else {
        return false;
    };
    matches!(
        db.code().as_deref(),
        // PostgreSQL serialization_failure, deadlock_detected; MySQL's
        // deadlock (1213) carries SQLSTATE 40001; SQLite SQLITE_BUSY_SNAPSHOT.
        Some("40001" | "40P01" | "517")
    )
}

/// Maps a client error to the store contract's error.
pub(crate) fn map(e: sqlx::Error) -> Error {
    match e {
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            if is_full(&code) {
                Error::StoreFull
            } else if is_bug(&code) {
                Error::Internal(format!("database refused a statement ({code}): {db}"))
            } else {
                Error::unavailable(sqlx::Error::Database(db))
            }
        }
        sqlx::Error::Configuration(e) => Error::Config(format!("database URL: {e}")),
        e @ (sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed) => Error::unavailable(e),
        other => Error::Internal(format!("database client: {other}")),
    }
}

/// Codes that mean the disk is full: SQLite `SQLITE_FULL` (13), PostgreSQL
/// `disk_full` (53100).
fn is_full(code: &str) -> bool {
    code == "53100" || code.parse::<u32>().is_ok_and(|n| n & 0xff == 13)
}

/// Codes that mean the statement itself is wrong, not the database's state.
pub(crate) fn is_bug(code: &str) -> bool {
    // SQLSTATE classes 42 (syntax, undefined table), 23 (constraint), 22
    // (data exception) on PostgreSQL and MySQL.
    if code.len() == 5
        && (code.starts_with("42") || code.starts_with("23") || code.starts_with("22"))
    {
        return true;
    }
    // SQLite result codes (primary code in the low byte): 1 ERROR (syntax,
    // no such table), 19 CONSTRAINT, 20 MISMATCH, 25 RANGE.
    if let Ok(n) = code.parse::<u32>() {
        return matches!(n & 0xff, 1 | 19 | 20 | 25);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::{is_bug, is_full};

    #[test]
    fn bugs_and_outages_are_told_apart() {
        assert!(is_bug("42P01"));
        assert!(is_bug("23505"));
        assert!(is_bug("1"));
        assert!(is_bug("2067"));
        assert!(!is_bug("8"), "SQLITE_READONLY is an outage");
        assert!(!is_bug("5"), "SQLITE_BUSY is an outage");
        assert!(!is_bug("57014"), "statement timeout is an outage");
        assert!(!is_bug("08006"));
        assert!(!is_bug("HY000"));
        assert!(is_full("13"), "SQLITE_FULL");
        assert!(is_full("53100"), "PostgreSQL disk_full");
        assert!(!is_full("5") && !is_full("53300") && !is_full("8"));
    }
}
