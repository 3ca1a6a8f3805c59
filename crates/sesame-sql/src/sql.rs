//! The statements, written once with `?` placeholders and specialised per
//! database at connect time (table names, `$n` placeholders for PostgreSQL,
//! row-lock clauses, upsert syntax).
//!
//! Table names come only from the validated prefix and schema (ASCII letters,
//! digits and `_`), never from input; every value is a bound parameter.

use std::sync::Arc;

use crate::Backend;

/// The columns of a full row, in the order `row::decode` reads them.
pub(crate) const COLUMNS: &str = "id, user_id, data, version, created_at, token_issued_at, \
     last_accessed, idle_expires_at, absolute_expires_at, device, end_reason, ended_at, \
     successor_id, grace_until";

/// Qualified table names.
#[derive(Debug, Clone)]
pub(crate) struct Tables {
    pub prefix: String,
    pub sessions: String,
    pub users: String,
    pub migrations: String,
}

impl Tables {
    pub fn new(prefix: &str, schema: Option<&str>) -> Self {
        let qualify = |name: &str| match schema {
            Some(schema) => format!("{schema}.{prefix}{name}"),
            None => format!("{prefix}{name}"),
        };
        Self {
            prefix: prefix.to_owned(),
            sessions: qualify("sessions"),
            users: qualify("users"),
            migrations: qualify("schema_migrations"),
        }
    }

    /// Replaces `{sessions}`, `{users}`, `{migrations}` and `{prefix}`.
    pub fn fill(&self, text: &str) -> String {
        text.replace("{sessions}", &self.sessions)
            .replace("{users}", &self.users)
            .replace("{migrations}", &self.migrations)
            .replace("{prefix}", &self.prefix)
    }
}

/// Turns `?` placeholders into `$1, $2, ...` for PostgreSQL.
pub(crate) fn placeholders(backend: Backend, sql: &str) -> String {
    if backend != Backend::Postgres {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// Every statement the store runs, ready for its database.
#[derive(Debug)]
pub(crate) struct Statements {
    pub backend: Backend,
    pub tables: Tables,
    pub select: Arc<str>,
    pub select_for_update: Arc<str>,
    pub select_user: Arc<str>,
    pub insert: Arc<str>,
    pub touch: Arc<str>,
    pub write_data: Arc<str>,
    pub end_live: Arc<str>,
    pub expire: Arc<str>,
    pub delete_expired: Arc<str>,
    pub list_user: Arc<str>,
    pub user_live_ids: Arc<str>,
    pub lock_user: Arc<str>,
    pub insert_user: Arc<str>,
    pub cleanup_select: Arc<str>,
    pub ping: Arc<str>,
}

/// The predicate "live and not expired at `?`" (binds now twice).
const LIVE: &str = "end_reason IS NULL AND idle_expires_at > ? AND absolute_expires_at > ?";

impl Statements {
    pub fn new(backend: Backend, tables: Tables) -> Self {
        let s = &tables.sessions;
        let u = &tables.users;
        let lock = match backend {
            Backend::Sqlite => "",
            _ => " FOR UPDATE",
        };
        let skip_locked = match backend {
            Backend::Sqlite => "",
            _ => " FOR UPDATE SKIP LOCKED",
        };
        let insert_user = match backend {
            Backend::Sqlite => format!("INSERT OR IGNORE INTO {u} (user_id) VALUES (?)"),
            Backend::Postgres => {
                format!("INSERT INTO {u} (user_id) VALUES (?) ON CONFLICT DO NOTHING")
            }
            // Not `INSERT IGNORE`: on a key whose row was just deleted (by
            // cleanup's pruning), two of those take shared locks on it and
            // deadlock upgrading them; `ON DUPLICATE KEY UPDATE` locks it
            // exclusively at once.
            Backend::MySql => format!(
                "INSERT INTO {u} (user_id) VALUES (?) ON DUPLICATE KEY UPDATE user_id = user_id"
            ),
        };
        let tomb = "data = '{}', device = NULL";
        let p = |sql: String| -> Arc<str> { placeholders(backend, &sql).into() };
        Self {
            backend,
            select: p(format!("SELECT {COLUMNS} FROM {s} WHERE id = ?")),
            select_for_update: p(format!("SELECT {COLUMNS} FROM {s} WHERE id = ?{lock}")),
            select_user: p(format!("SELECT user_id FROM {s} WHERE id = ?")),
            insert: p(format!(
                "INSERT INTO {s} (id, user_id, data, version, created_at, token_issued_at, \
                 last_accessed, idle_expires_at, absolute_expires_at, deadline, device) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            )),
            touch: p(format!(
                "UPDATE {s} SET last_accessed = ?, idle_expires_at = ?, deadline = ? \
                 WHERE id = ? AND {LIVE}"
            )),
            write_data: p(format!(
                "UPDATE {s} SET data = ?, version = version + 1, last_accessed = ?, \
                 idle_expires_at = ?, deadline = ? \
                 WHERE id = ? AND version = ? AND end_reason IS NULL"
            )),
            end_live: p(format!(
                "UPDATE {s} SET end_reason = ?, ended_at = ?, deadline = ?, successor_id = ?, \
                 grace_until = ?, {tomb} WHERE id = ? AND {LIVE}"
            )),
            expire: p(format!(
                "UPDATE {s} SET end_reason = ?, ended_at = ?, deadline = ?, {tomb} \
                 WHERE id = ? AND end_reason IS NULL \
                 AND (idle_expires_at <= ? OR absolute_expires_at <= ?)"
            )),
            delete_expired: p(format!(
                "DELETE FROM {s} WHERE id = ? AND end_reason IS NULL \
                 AND (idle_expires_at <= ? OR absolute_expires_at <= ?)"
            )),
            list_user: p(format!(
                "SELECT {COLUMNS} FROM {s} WHERE user_id = ? AND {LIVE} ORDER BY created_at, id"
            )),
            user_live_ids: p(format!(
                "SELECT id FROM {s} WHERE user_id = ? AND {LIVE} ORDER BY created_at, id"
            )),
            lock_user: p(format!("SELECT user_id FROM {u} WHERE user_id = ?{lock}")),
            insert_user: p(insert_user),
            cleanup_select: p(format!(
                "SELECT id, user_id, end_reason, idle_expires_at, absolute_expires_at \
                 FROM {s} WHERE deadline <= ? ORDER BY deadline LIMIT ?{skip_locked}"
            )),
            ping: "SELECT 1".into(),
            tables,
        }
    }

    /// `DELETE FROM sessions WHERE id IN (?, ...)` for `n` ids.
    pub fn delete_ids(&self, n: usize) -> String {
        placeholders(
            self.backend,
            &format!(
                "DELETE FROM {} WHERE id IN ({})",
                self.tables.sessions,
                marks(n)
            ),
        )
    }

    /// Ends `n` expired live sessions at their expiry instant, their
    /// tombstones kept for `?` ms. Binds: now, now, now, ttl, then the ids.
    pub fn expire_ids(&self, n: usize) -> String {
        let absolute = "absolute_expires_at <= ?";
        placeholders(
            self.backend,
            &format!(
                "UPDATE {} SET \
                 end_reason = CASE WHEN {absolute} THEN 'expired_absolute' ELSE 'expired_idle' END, \
                 ended_at = CASE WHEN {absolute} THEN absolute_expires_at ELSE idle_expires_at END, \
                 deadline = CASE WHEN {absolute} THEN absolute_expires_at ELSE idle_expires_at END + ?, \
                 data = '{{}}', device = NULL \
                 WHERE end_reason IS NULL AND id IN ({})",
                self.tables.sessions,
                marks(n)
            ),
        )
    }

    /// Locks the rows of `n` users (bound), in key order, for
    /// [`Self::prune_users`] in the same transaction. PostgreSQL and MySQL
    /// only: SQLite never prunes (it has no row locks and no user rows).
    pub fn lock_users_for_prune(&self, n: usize) -> String {
        placeholders(
            self.backend,
            &format!(
                "SELECT user_id FROM {} WHERE user_id IN ({}) ORDER BY user_id FOR UPDATE",
                self.tables.users,
                marks(n)
            ),
        )
    }

    /// Deletes the rows of `n` users (bound) who have no live session left.
    /// Run after [`Self::lock_users_for_prune`] in one transaction, so the
    /// users' rows are locked before the sessions are read — the order every
    /// transaction takes them in (a bare `DELETE` here reads the sessions
    /// first on InnoDB, and deadlocked against creates).
    pub fn prune_users(&self, n: usize) -> String {
        let (u, s) = (&self.tables.users, &self.tables.sessions);
        placeholders(
            self.backend,
            &format!(
                "DELETE FROM {u} WHERE user_id IN ({}) AND NOT EXISTS \
                 (SELECT 1 FROM {s} WHERE {s}.user_id = {u}.user_id AND {s}.end_reason IS NULL)",
                marks(n)
            ),
        )
    }
}

fn marks(n: usize) -> String {
    let mut s = String::with_capacity(n * 3);
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        s.push('?');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_placeholders_are_numbered() {
        assert_eq!(
            placeholders(Backend::Postgres, "a = ? AND b IN (?, ?)"),
            "a = $1 AND b IN ($2, $3)"
        );
        assert_eq!(placeholders(Backend::MySql, "a = ?"), "a = ?");
    }

    #[test]
    fn tables_are_prefixed_and_qualified() {
        let t = Tables::new("t1_", Some("s"));
        assert_eq!(t.sessions, "s.t1_sessions");
        assert_eq!(
            t.fill("CREATE INDEX {prefix}x ON {sessions}"),
            "CREATE INDEX t1_x ON s.t1_sessions"
        );
    }
}
