//! Embedded migrations.
//!
//! The table names carry a configurable prefix (and schema), which sqlx's own
//! migrator cannot substitute, so this is a small runner of its own: numbered
//! SQL files per database under `migrations/`, applied in order inside a
//! lock, and recorded in `<prefix>schema_migrations`. A start-up where all of
//! them ran only reads that table, so a read-only database still opens.

use sesame::{Error, Result};
use sqlx::{AssertSqlSafe, Row};

use crate::{Backend, SqlConfig, SqlStore, error};

/// One migration: its number, what it does, and its SQL per database.
struct Migration {
    version: i64,
    description: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
    mysql: &'static str,
}

const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    description: "sessions and users tables",
    sqlite: include_str!("../migrations/sqlite/0001_sessions.sql"),
    postgres: include_str!("../migrations/postgres/0001_sessions.sql"),
    mysql: include_str!("../migrations/mysql/0001_sessions.sql"),
}];

/// Connects to `url` without migrating, runs the pending migrations and
/// returns how many ran: the `sesame migrate` command.
pub async fn migrate(url: &str, config: SqlConfig) -> Result<u32> {
    let store = SqlStore::connect_with(url, config.with_migrate(false)).await?;
    let ran = store.migrate().await;
    store.close().await;
    ran
}

/// The statements of one migration file, comments dropped.
fn statements(text: &str) -> Vec<String> {
    let code: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect();
    code.join("\n")
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

async fn applied(store: &SqlStore) -> Option<Vec<i64>> {
    let sql = format!("SELECT version FROM {}", store.inner.sql.tables.migrations);
    let rows = sqlx::query(AssertSqlSafe(sql))
        .fetch_all(&store.inner.read)
        .await
        .ok()?;
    rows.iter().map(|r| r.try_get::<i64, _>(0).ok()).collect()
}

fn pending(done: &[i64]) -> Vec<&'static Migration> {
    MIGRATIONS
        .iter()
        .filter(|m| !done.contains(&m.version))
        .collect()
}

pub(crate) async fn run(store: &SqlStore) -> Result<u32> {
    let inner = &store.inner;
    if let Some(done) = applied(store).await
        && pending(&done).is_empty()
    {
        return Ok(0);
    }
    let tables = &inner.sql.tables;
    let create_log = tables.fill(
        "CREATE TABLE IF NOT EXISTS {migrations} (version BIGINT PRIMARY KEY, \
         description VARCHAR(200) NOT NULL, applied_at BIGINT NOT NULL)",
    );
    let lock_name = format!("sesame_migrate_{}", tables.migrations);
    let mut conn = inner.write.acquire().await.map_err(error::map)?;
    let exec = |sql: String| sqlx::query(AssertSqlSafe(sql));
    // Take the migration lock. PostgreSQL and SQLite migrate in one
    // transaction (their DDL is transactional); MySQL commits each DDL
    // statement, so a named lock guards the run there.
    match inner.backend {
        Backend::Sqlite => {
            exec("PRAGMA journal_mode = WAL".into())
                .fetch_all(&mut *conn)
                .await
                .map_err(error::map)?;
            exec("BEGIN IMMEDIATE".into())
                .execute(&mut *conn)
                .await
                .map_err(error::map)?;
        }
        Backend::Postgres => {
            exec("BEGIN".into())
                .execute(&mut *conn)
                .await
                .map_err(error::map)?;
            exec(format!(
                "SELECT pg_advisory_xact_lock({})",
                fnv1a(lock_name.as_bytes())
            ))
            .fetch_all(&mut *conn)
            .await
            .map_err(error::map)?;
        }
        Backend::MySql => {
            let name: String = lock_name.chars().take(64).collect();
            let got: Option<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT CAST(GET_LOCK('{name}', 30) AS SIGNED)"
            )))
            .fetch_one(&mut *conn)
            .await
            .map_err(error::map)?;
            if got != Some(1) {
                return Err(Error::unavailable("could not take the migration lock"));
            }
        }
    }
    let result = async {
        exec(create_log.clone()).execute(&mut *conn).await?;
        let rows = exec(format!("SELECT version FROM {}", tables.migrations))
            .fetch_all(&mut *conn)
            .await?;
        let done: Vec<i64> = rows
            .iter()
            .map(|r| r.try_get::<i64, _>(0))
            .collect::<Result<_, _>>()?;
        let mut ran = 0;
        for m in pending(&done) {
            let text = match inner.backend {
                Backend::Sqlite => m.sqlite,
                Backend::Postgres => m.postgres,
                Backend::MySql => m.mysql,
            };
            for statement in statements(&tables.fill(text)) {
                exec(statement).execute(&mut *conn).await?;
            }
            exec(crate::sql::placeholders(
                inner.backend,
                &format!(
                    "INSERT INTO {} (version, description, applied_at) VALUES (?, ?, ?)",
                    tables.migrations
                ),
            ))
            .bind(m.version)
            .bind(m.description)
            .bind(0_i64)
            .execute(&mut *conn)
            .await?;
            ran += 1;
        }
        Ok::<u32, sqlx::Error>(ran)
    }
    .await;
    let finish = match (inner.backend, &result) {
        (Backend::MySql, _) => {
            let name: String = lock_name.chars().take(64).collect();
            format!("DO RELEASE_LOCK('{name}')")
        }
        (_, Ok(_)) => "COMMIT".into(),
        (_, Err(_)) => "ROLLBACK".into(),
    };
    let finished = exec(finish).execute(&mut *conn).await;
    let ran = result.map_err(error::map)?;
    finished.map_err(error::map)?;
    Ok(ran)
}

/// A stable 63-bit key for PostgreSQL's advisory lock.
fn fnv1a(bytes: &[u8]) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h >> 1) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_files_split_into_statements() {
        for m in MIGRATIONS {
            for text in [m.sqlite, m.postgres, m.mysql] {
                let all = statements(text);
                assert!(all.len() >= 2, "{all:?}");
                assert!(all.iter().all(|s| s.trim_start().starts_with("CREATE")));
            }
        }
    }
}
